# `docker buildx bake -f examples/hello/docker-bake.hcl` from the repository
# root builds the hello service through the frontend.
target "hello" {
  context    = "examples/hello"
  dockerfile = "build.envd"
  args = {
    BUILDKIT_SYNTAX = "aiges/envd-frontend:latest"
  }
  tags = ["envd-demo/hello:bake"]
}

group "default" {
  targets = ["hello"]
}
