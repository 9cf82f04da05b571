# SPDX-License-Identifier: Apache-2.0
"""The liveness backends of the tooz driver, as tools/test-setup.sh starts
them. Each URL can be overridden with SGCONDUCTOR_TEST_<NAME>_URL."""

import os
import urllib.parse

import pytest

from sgconductor import exception
from sgconductor.servicegroup.drivers import tooz_driver

DEFAULT_URLS = {
    'zookeeper': 'zookeeper://127.0.0.1:2181?timeout=2',
    'redis': 'redis://127.0.0.1:6379?timeout=2',
    'memcached': 'memcached://127.0.0.1:11211?timeout=2',
    'etcd': 'etcd3+http://127.0.0.1:2379?timeout=2',
}
NAMES = sorted(DEFAULT_URLS)


def url(name):
    return (os.environ.get('SGCONDUCTOR_TEST_%s_URL' % name.upper())
            or DEFAULT_URLS[name])


def require(conf, name):
    """Configure the tooz driver on ``name``; fail loudly if it is down."""
    backend_url = url(name)
    conf.config(driver='tooz', backend_url=backend_url, group='servicegroup')
    driver = tooz_driver.ToozDriver(3, backend_url)
    try:
        driver.check()
    except exception.ConfigInvalid as exc:
        pytest.fail('%s at %s: %s; run tools/test-setup.sh'
                    % (name, backend_url, exc), pytrace=False)
    return backend_url


def require_legacy(conf, alias):
    """Configure Nova's old ``zk`` or ``mc`` driver on the test backend."""
    backend = {'zk': 'zookeeper', 'mc': 'memcached'}[alias]
    address = urllib.parse.urlsplit(require(conf, backend)).netloc
    conf.config(driver=alias, backend_url=None, group='servicegroup')
    if alias == 'zk':
        conf.config(address=address, recv_timeout=2000, group='zookeeper')
    else:
        conf.config(memcached_servers=[address])
    return alias
