# SPDX-License-Identifier: Apache-2.0
"""A conductor in this process, for the benchmarks that time its clients
(which put the repository on sys.path and import it as tools.local_conductor).

    with local_conductor.running('versions') as config:
        ...  # cfg.CONF is aimed at it; ``config`` overrides options

SQLite in a temporary directory, RabbitMQ (the functional tests' broker,
after tools/test-setup.sh) with a topic and exchange of its own, whose
queues are deleted when done.
"""

import contextlib
import os
import tempfile
import uuid

from oslo_config import fixture as config_fixture
from oslo_messaging import conffixture as messaging_fixture

from sgconductor import cmd  # noqa: F401 (quiets library deprecations)
from sgconductor import conf as sg_conf
from sgconductor import rpc
from sgconductor import service
from sgconductor.db import migration
from sgconductor.db.sqlalchemy import api as sa_api
from tests.functional import deployment


@contextlib.contextmanager
def running(name):
    """Yield the oslo.config fixture of cfg.CONF while a conductor of a
    topic of its own (``sgbench-<name>-...``) serves in this process."""
    conf = sg_conf.CONF
    config = config_fixture.Config(conf)
    config.setUp()
    messaging = messaging_fixture.ConfFixture(conf)
    messaging.setUp()
    messaging.transport_url = deployment.TRANSPORT_URL
    conf([], project='sgconductor', default_config_files=[])
    topic = 'sgbench-%s-%s' % (name, uuid.uuid4().hex)
    config.config(topic=topic, group='conductor')
    config.config(control_exchange=topic)
    config.config(amqp_auto_delete=True, group='oslo_messaging_rabbit')
    with tempfile.TemporaryDirectory() as workdir:
        sa_api.configure(connection='sqlite:///%s' % os.path.join(
            workdir, 'sg.sqlite'))
        migration.upgrade()
        conductor = service.Conductor(rpc.create_transport())
        conductor.start()
        try:
            yield config
        finally:
            conductor.stop()
            rpc.cleanup()
            sa_api.configure()
