# syntax=docker/dockerfile:1
# check=error=true;experimental=all
#
# The release image GoReleaser builds (../.goreleaser.yaml, dockers_v2):
# the binaries it already cross-compiled, one per platform under
# $TARGETPLATFORM in the build context, on the same distroless base as
# deploy/Dockerfile, which builds from source instead.
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETPLATFORM
COPY ${TARGETPLATFORM}/tocsin /usr/local/bin/tocsin
USER 65532:65532
EXPOSE 8080/tcp
ENTRYPOINT ["/usr/local/bin/tocsin"]
CMD ["run", "--config", "/etc/tocsin/config/tocsin.yml"]
