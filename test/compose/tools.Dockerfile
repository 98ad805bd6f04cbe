# The test's other containers, on the same stand-in base as sluice: an "unmodified agent" with
# curl, python3 and node (and the system roots, as real agent images have), the fake origin
# (node) and the fake internet's DNS server (dnsmasq). Nothing in it knows about sluice.
ARG BASE_IMAGE=sluice-test-base:latest
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      curl python3 ca-certificates dnsmasq-base iproute2 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
