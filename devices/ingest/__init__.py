"""MQTT ingest: device messages in, observations and rejections stored, acks out (docs/ingest.md).

``handle_batch`` is the pure entry point; ``IngestWorker`` drains the transport's queue into it
and acknowledges each message only after its outcome has committed.
"""

from devices.ingest.batch import handle_batch, handle_message
from devices.ingest.messages import Incoming, Outcome

__all__ = ["Incoming", "Outcome", "handle_batch", "handle_message"]
