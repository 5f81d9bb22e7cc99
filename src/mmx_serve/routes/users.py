"""Users (admins only): list, add (the answer carries the new token, once), remove — as ``mmx users`` does."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from mmx.users import NAME, ROLES
from mmx_serve.auth import Who
from mmx_serve.refusals import NotAvailable, error_responses
from mmx_serve.routes.api import Api

UserName = Annotated[str, Path(pattern=NAME.pattern, max_length=64, description="user name")]


class NewUser(BaseModel):
    name: str = Field(pattern=f"^{NAME.pattern}$", max_length=64, description="letters, digits and _.@-")
    role: Literal[ROLES]  # type: ignore[valid-type]
    days: float | None = Field(90, gt=0, le=36500, strict=True,  # strict: `true` is not 1 day
                               description="days until the token expires (null: never)")


def router(api: Api) -> APIRouter:
    r = APIRouter(responses=error_responses(409))
    auth, admin = api.auth, api.auth.need("admin")

    def accounts_on() -> None:
        if not auth.on:
            raise NotAvailable("this server has no accounts; make the first user with `mmx users add NAME --role "
                               "admin --run RUN`")

    @r.get("/api/users")
    def users(who: Annotated[Who, Depends(admin)]) -> dict:
        accounts_on()
        return {"users": [u.public() for u in auth.users.all().values()]}

    @r.post("/api/users")
    def add(body: NewUser, who: Annotated[Who, Depends(admin)]) -> dict:
        """A new user; the answer's ``token`` is shown only this once."""
        accounts_on()
        user, token = auth.users.add(body.name, body.role, body.days)
        return {"user": user.public(), "token": token}

    @r.delete("/api/users/{name}", responses=error_responses(404))
    def remove(name: UserName, who: Annotated[Who, Depends(admin)]) -> dict:
        accounts_on()
        if name == who.name:
            raise NotAvailable("an admin cannot remove itself here (nobody might be left to manage users); "
                               "use `mmx users remove`")
        return {"removed": auth.users.remove(name).public()}

    return r
