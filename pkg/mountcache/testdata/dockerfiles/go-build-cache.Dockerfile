FROM golang:1.23
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The usual way Go projects mount their build cache: the parent of go-build.
RUN --mount=type=cache,target=/root/.cache \
    --mount=type=cache,target=/go/pkg/mod \
    go build -o /out/app ./cmd/app
RUN --mount=type=cache,target=/root/.cache/go-build go test ./...
