#!/bin/sh
# Docker's embedded DNS address (127.0.0.11), forwarded to the nameserver Podman gave this container.
set -eu
upstream="$(awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)"
if [ -n "$upstream" ] && [ "$upstream" != "127.0.0.11" ]; then
  socat -T5 UDP4-RECVFROM:53,bind=127.0.0.11,fork "UDP4-SENDTO:$upstream:53" &
  socat TCP4-LISTEN:53,bind=127.0.0.11,reuseaddr,fork "TCP4:$upstream:53" &
fi
exec "$@"
