"""The web server: Gradio chat, REST API, source viewer and embeddable widget."""

import os

# Before anything imports gradio: it reads these at import time, and this product never phones out.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
