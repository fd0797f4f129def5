package cli

// BackendEnvironment is the Environment section's part on the variables
// that pick each backend's engine, which every binary reads alike.
const BackendEnvironment = `  DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG, DOCKER_API_VERSION,
  DOCKER_CERT_PATH, DOCKER_TLS_VERIFY
                    the Docker Engine of the docker backend, picked as the
                    docker CLI does: DOCKER_HOST, else the context
                    (DOCKER_CONTEXT, else currentContext in the config)
  BOTTLE_DOCKER_POOL  an IPv4 range to carve the bottles' networks from
                    (default: the Engine's own address pools)
  BOTTLE_SMOLVM     the smolvm executable of the smolmachines backend
                    (default: smolvm on PATH)
  KUBECONFIG, BOTTLE_KUBE_CONTEXT, BOTTLE_KUBE_NAMESPACE
                    the cluster of the kubernetes backend, as kubectl
                    picks it (default ~/.kube/config, its current context
                    and namespace)
`
