# Weir's container image: a static weir binary and nothing else (there is no registry to pull a base from).
#
# Build it with scripts/docker-build.sh, which makes the image weir:dev (or the tag it is given):
#   1. CGO_ENABLED=0 go build -o CONTEXT/weir ./cmd/weir    (a static binary: FROM scratch has no libc)
#   2. mkdir -m 1777 CONTEXT/data                          (an empty, world-writable directory)
#   3. docker build -f Dockerfile -t weir:dev CONTEXT
# The build context is that fresh directory, not the repository. The tests of package cluster build their
# own image the same way (cluster.BuildImage).
#
# Run a node:  docker run weir:dev agent --data-dir /data ...    (see docker-compose.yml)
FROM scratch
COPY weir /weir
# /data holds the agent's Raft log and checkpoints (--data-dir /data), /tmp what wants a temporary
# directory. Both are world-writable, so that the agent may run as any user (docker run --user UID:GID):
# files it writes into a mounted directory then belong to that user, not to root.
COPY data /data
COPY data /tmp
ENTRYPOINT ["/weir"]
