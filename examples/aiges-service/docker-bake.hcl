# One build.envd, two images: `docker buildx bake -f examples/aiges-service/docker-bake.hcl`
# from the repository root builds the CPU and the GPU variant.
#
# The AIGES_*_IMAGE args point the aiges_cpu/aiges_gpu bases at the local
# stand-ins that `make demo` creates; drop them to use the published images.

variable "CPU_BASE" { default = "127.0.0.1:5000/aiges/base-cpu:py3.11-bookworm" }
variable "GPU_BASE" { default = "127.0.0.1:5000/aiges/base-gpu:py3.11-bookworm" }

target "_service" {
  context    = "examples/aiges-service"
  dockerfile = "build.envd"
  args = {
    BUILDKIT_SYNTAX = "aiges/envd-frontend:latest"
    AIGES_CPU_IMAGE = CPU_BASE
    AIGES_GPU_IMAGE = GPU_BASE
  }
}

target "cpu" {
  inherits = ["_service"]
  args     = { AIGES_DEVICE = "cpu" }
  tags     = ["envd-demo/aiges-service:cpu"]
}

target "gpu" {
  inherits = ["_service"]
  args     = { AIGES_DEVICE = "gpu" }
  tags     = ["envd-demo/aiges-service:gpu"]
}

group "default" {
  targets = ["cpu", "gpu"]
}
