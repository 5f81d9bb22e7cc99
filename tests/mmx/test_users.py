"""A run's users file: a token is checked in full against a salted hash and never stored; roles are ordered;
tokens expire; every change is seen by another reader of the file; errors name the file, the user and the role."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mmx.users import ROLES, UnknownUser, Users, UsersError


def test_a_token_is_checked_whole_and_only_its_salted_hash_is_kept(tmp_path):
    users = Users(tmp_path / "users.json")
    assert not users.exists and users.all() == {}
    user, token = users.add("ana", "reviewer")
    key, secret = token.removeprefix("mmx_").split("_", 1)
    assert (user.key, len(user.salt), len(user.hash)) == (key, 32, 64)
    stored = (tmp_path / "users.json").read_text()
    assert secret not in stored and json.loads(stored)["users"][0]["name"] == "ana"
    assert (tmp_path / "users.json").stat().st_mode & 0o777 == 0o600
    assert Users(tmp_path / "users.json").check(token) == user  # another reader of the same file
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), f"mmx_{key}_", "Bearer " + token, ""):
        assert users.check(wrong) is None
    _, other = users.add("bob", "viewer")
    assert users.check(other).name == "bob" and users.check(token).name == "ana"


def test_roles_are_ordered_and_tokens_expire(tmp_path):
    users = Users(tmp_path / "users.json")
    curator, _ = users.add("cy", "curator", days=1)
    assert [curator.may(r) for r in ROLES] == [True, True, True, False]
    assert not curator.expired() and curator.expired(datetime.now(timezone.utc) + timedelta(days=1, seconds=1))
    forever, _ = users.add("dee", "admin", days=None)
    assert forever.expires is None and not forever.expired(datetime(9999, 1, 1, tzinfo=timezone.utc))
    assert set(forever.public()) == {"name", "role", "created", "expires"}  # no salt, no hash


def test_rotate_role_and_remove_are_seen_by_readers_and_errors_name_what_is_wrong(tmp_path):
    users, reader = Users(tmp_path / "users.json"), Users(tmp_path / "users.json")
    _, old = users.add("ana", "viewer")
    assert reader.check(old).role == "viewer"
    _, new = users.rotate("ana")
    users.set_role("ana", "admin")
    assert reader.check(old) is None and reader.check(new).role == "admin"  # re-read after each change
    users.remove("ana")
    assert reader.all() == {} and reader.exists  # the file stays: accounts on, nobody let in
    with pytest.raises(UsersError, match="role 'owner' is not one of viewer, reviewer, curator, admin"):
        users.add("ana", "owner")
    with pytest.raises(UsersError, match="user name 'a b'"):
        users.add("a b", "viewer")
    users.add("ana", "viewer")
    with pytest.raises(UsersError, match="already has a user 'ana'"):
        users.add("ana", "admin")
    with pytest.raises(UnknownUser, match=r"users.json has no user 'bob' \(users: ana\)"):
        users.remove("bob")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(UsersError, match="broken.json is not a users file"):
        Users(tmp_path / "broken.json").all()
