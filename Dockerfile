# The action's image: one static binary and the CA certificates it needs for HTTPS, nothing
# else (no shell, no docker CLI: builders are reached through the Docker API). Kept buildable
# by the classic builder, because the Actions runner builds it with `docker build` when
# action.yml says `image: Dockerfile`; released versions use a prebuilt image instead (see
# README, "Running in Docker").
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
COPY main.go ./
COPY pkg/ pkg/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/warmbuild .
# A temp directory of the image's own: scratch has none, and nektos/act sets RUNNER_TEMP=/tmp
# for container actions without mounting anything there (GitHub's runner mounts
# /github/runner_temp). Copied as a tree so the directory keeps its mode (1777).
RUN mkdir -p /out/root/tmp && chmod 1777 /out/root/tmp

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/root/ /
COPY --from=build /out/warmbuild /warmbuild
ENV TMPDIR=/tmp
ENTRYPOINT ["/warmbuild"]
