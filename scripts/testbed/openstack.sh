#!/usr/bin/env bash
# Installs a real OpenStack (Zed) for the openstack provider's tests: Keystone, Glance, Placement,
# Nova, Neutron (its API only: Nova asks it for ports on every delete) and Heat as Debian's
# Python library packages, plus RabbitMQ and MariaDB (the services' databases: on SQLite, Nova
# failed calls with "database is locked" under load). Idempotent. test/support/openstack.ts starts them.
#
# Why Debian's python3-* packages and not the service packages or PyPI: the service packages
# (keystone, nova-api, ...) run debconf/dbconfig maintainer scripts and expect systemd; the
# library packages carry the same code and binaries' entry points with no maintainer scripts
# beyond byte-compiling, and the test support (test/support/openstack.ts) starts every service
# itself with its own config on loopback ports. Zed is a coherent, tested set on Debian 12's
# Python; PyPI's newest releases would need an upper-constraints file (opendev is not reachable
# here) and compiled wheels. Downloaded .debs are kept in the cache so a warm install is offline.
set -euo pipefail
cache="${RAMPART_CACHE:-$HOME/.cache/rampart}"
archives="$cache/openstack/apt-archives"
packages=(python3-keystone python3-glance python3-placement python3-nova python3-neutron
  python3-heat python3-openstackclient python3-pymysql rabbitmq-server mariadb-server)
# The services' paste pipelines ship in their -common packages, which are not installed (their
# maintainer scripts want debconf and dbconfig): the files are taken out of the .debs.
paste_from=(nova-common glance-common neutron-common heat-common)
etc="$cache/openstack/etc"
marker="$cache/openstack/bin/python3"

installed() {
  local p
  for p in "${packages[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || return 1
  done
}
check() {
  /usr/bin/python3 -c 'import keystone, glance, placement, nova, neutron, heat' &&
    [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server && -x /usr/sbin/mariadbd ]]
}
paste_files() {
  local work
  work="$(mktemp -d)"
  (cd "$work" && apt-get download -o APT::Sandbox::User=root "${paste_from[@]}" >/dev/null)
  for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
  mkdir -p "$etc"
  cp "$work/root/usr/share/nova-common/api-paste.ini" "$etc/nova-api-paste.ini"
  cp "$work/root/usr/share/glance-common/glance-api-paste.ini" "$etc/glance-api-paste.ini"
  cp "$work/root/usr/share/neutron-common/api-paste.ini" "$etc/neutron-api-paste.ini"
  cp "$work/root/etc/heat/api-paste.ini" "$etc/heat-api-paste.ini"
  rm -rf "$work"
}
if installed && check && [[ -x "$marker" && -f "$etc/heat-api-paste.ini" ]]; then
  echo "openstack: already installed (Debian Zed python3-* packages, rabbitmq-server, mariadb-server)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
mkdir -p "$archives/partial"
# Maintainer scripts must not start daemons (there is no init here): the tests start them.
policy_added=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  policy_added=1
fi
install_packages() {
  nice -n 10 apt-get install -y --no-install-recommends -o "Dir::Cache::Archives=$archives" \
    -o APT::Sandbox::User=root \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${packages[@]}"
}
if ! install_packages; then
  apt-get update
  install_packages
fi
[[ -n "$policy_added" ]] && rm -f /usr/sbin/policy-rc.d
check
paste_files
# The marker test/support/servers.ts looks for: the interpreter the services run with.
mkdir -p "$(dirname "$marker")"
ln -sfn /usr/bin/python3 "$marker"
echo "openstack: installed (Debian Zed python3-* packages, rabbitmq-server, mariadb-server; debs in $archives)"
