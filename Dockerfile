# A static image of the thin tufkeys client, for CI images. Embed your root of trust first
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
# the thin client: the consumer commands only (scripts/build-client.sh)
RUN scripts/build-client.sh /tufkeys

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /tufkeys /tufkeys
# the cache lives under $HOME/.cache; nobody's home is writable here
ENV HOME=/tmp
USER 65532:65532
ENTRYPOINT ["/tufkeys"]
