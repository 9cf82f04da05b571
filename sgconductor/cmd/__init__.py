# SPDX-License-Identifier: Apache-2.0
"""Command-line entry points; each main() stays thin."""

import warnings

# oslo.service (pulled in by oslo.messaging) and eventlet announce their own
# deprecation on import; they are noise to an operator, not a fault of ours.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
warnings.filterwarnings('ignore', category=DeprecationWarning,
                        module=r'(oslo_service|eventlet)(\.|$)')
