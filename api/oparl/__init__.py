"""An OParl 1.1 read facade over the ledger (``/oparl/v1/``): see docs/oparl.md."""

from api.oparl.routes import router

__all__ = ["router"]
