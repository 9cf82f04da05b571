# SPDX-License-Identifier: Apache-2.0
"""Options of the ``[DEFAULT]`` group that sgconductor itself defines.

``transport_url`` is oslo.messaging's own option and is documented with it.
"""

import socket

from oslo_config import cfg

opts = [
    cfg.HostAddressOpt(
        'host',
        default=socket.gethostname(),
        sample_default='<current_hostname>',
        help='Name of this node. Reporters send it as the host of the '
             'services they report; it must be unique among the nodes '
             'that report the same binary.'),
    cfg.IntOpt(
        'report_interval',
        default=10,
        min=1,
        help='Seconds between two report_state casts of one service. '
             'Must be lower than service_down_time.'),
    cfg.IntOpt(
        'service_down_time',
        default=60,
        min=1,
        help='Seconds without a report after which a service is '
             'considered down. If it is not greater than report_interval, '
             'a warning is logged and 2.5 x report_interval is used.'),
    cfg.StrOpt(
        'default_availability_zone',
        default='nova',
        help='Availability zone that reporters send when none is given.'),
    cfg.StrOpt(
        'state_path',
        default='/var/lib/sgconductor',
        help='Directory where sgconductor keeps its state. Unless '
             '[database] connection is set, the conductor uses the SQLite '
             'database $state_path/sgconductor.sqlite.'),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return {'DEFAULT': opts}
