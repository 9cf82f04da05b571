# SPDX-License-Identifier: Apache-2.0
"""Listening to a deployment's versioned notifications, as a consumer of
Nova's notifications would."""

import contextlib

import oslo_messaging as messaging
from oslo_config import cfg


class Collector:
    def __init__(self):
        self.received = []

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        data = payload['nova_object.data']
        self.received.append((event_type, data['host'])
                             if event_type != 'service.state' else
                             (event_type, data['host'], data['state']))

    warn = info


def _topic(deployment):
    return deployment.topic + '-notifications'


def emitting(deployment, sections=None, **conductor):
    """The configuration sections of a conductor that emits where
    ``notifications`` listens: ``conductor``, its [conductor] options;
    ``sections``, any other."""
    return dict(sections or {},
                oslo_messaging_notifications={'driver': 'messagingv2',
                                              'topics': _topic(deployment)},
                conductor=conductor)


@contextlib.contextmanager
def notifications(deployment, sections=None, **conductor):
    """A listener on the deployment's notification topic, then its
    conductor, emitting there (see ``emitting``); yields what the listener
    receives.

    The listener uses cfg.CONF's transport (the ``client`` fixture's).
    """
    topic = _topic(deployment)
    transport = messaging.get_notification_transport(cfg.CONF)
    collector = Collector()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)], [collector],
        executor='threading')
    listener.start()  # declares the queue before anything is emitted
    try:
        deployment.start_conductor(
            sections=emitting(deployment, sections, **conductor))
        yield collector.received
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
