# A static tufkeys image. Embed your root of trust first
# (scripts/build-with-root.sh, or put root.json and repositories.txt in
# repo-metadata/), then:
#
#   docker build -t tufkeys .
#   docker run --rm tufkeys keys --registry registry.example.test
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /tufkeys ./cmd/tufkeys

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /tufkeys /tufkeys
# the cache lives under $HOME/.cache; nobody's home is writable here
ENV HOME=/tmp
USER 65532:65532
ENTRYPOINT ["/tufkeys"]
