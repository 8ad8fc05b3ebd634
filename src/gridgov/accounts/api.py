from ninja import Router

auth_router = Router(tags=["auth"])
router = Router(tags=["accounts"])
