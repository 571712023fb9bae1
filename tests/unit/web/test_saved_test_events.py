"""The Test tab's saved test events (web/test_events.py): names as the console takes them, events kept per
function, in memory without a state directory and in the state directory's database with one, where a
new sandbox over the same directory finds them."""

from __future__ import annotations

import pytest

from helpers.stand_in import StandIn
from sandbox.state import Persistence
from web.test_events import SavedEventError, SavedEvents, check_name, saved_events


@pytest.mark.parametrize("name", ["a", "s3-put", "My_Event-2", "x" * 25, "0123456789"])
def test_letters_digits_dash_and_underscore_up_to_25_characters_make_a_name(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Give the event a name"),
        (None, "Give the event a name"),
        (42, "Give the event a name"),
        ("x" * 26, "26 characters long; at most 25"),
        ("my event", "not ' '"),
        ("../../etc", "not '.' '/'"),
        ("<img>", "not '<' '>'"),
        ("café", "not 'é'"),
    ],
)
def test_any_other_name_is_refused_with_its_reason(name, message):
    with pytest.raises(SavedEventError) as raised:
        check_name(name)
    assert message in str(raised.value)


def test_events_are_kept_per_function_listed_by_name_replaced_and_deleted():
    store = SavedEvents()
    store.save("ImageResizeLambda", "zeta", {"Records": []})
    store.save("ImageResizeLambda", "Alpha", {"a": 1})
    store.save("Other", "zeta", "just a string")
    assert [e["name"] for e in store.list("ImageResizeLambda")] == ["Alpha", "zeta"]
    assert store.get("Other", "zeta") == "just a string"
    store.save("ImageResizeLambda", "zeta", [1, 2])
    assert store.get("ImageResizeLambda", "zeta") == [1, 2]
    store.delete("ImageResizeLambda", "zeta")
    assert [e["name"] for e in store.list("ImageResizeLambda")] == ["Alpha"]
    assert store.get("Other", "zeta") == "just a string"
    with pytest.raises(KeyError):
        store.get("ImageResizeLambda", "zeta")
    with pytest.raises(KeyError):
        store.delete("ImageResizeLambda", "zeta")
    assert store.persistent is False


def test_a_refused_name_saves_nothing():
    store = SavedEvents()
    with pytest.raises(SavedEventError):
        store.save("ImageResizeLambda", "no spaces", {})
    assert store.list("ImageResizeLambda") == []


def test_events_saved_in_a_state_directory_are_found_by_the_next_sandbox(tmp_path):
    first = Persistence(tmp_path, report=lambda _: None).open()
    try:
        store = SavedEvents(first)
        assert store.persistent
        store.save("ImageResizeLambda", "upload", {"Records": [{"s3": {}}]})
        store.save("ImageResizeLambda", "gone", {})
        store.save("Faults", "raise", {"action": "raise"})
        store.delete("ImageResizeLambda", "gone")
    finally:
        first.close()
    again = Persistence(tmp_path, report=lambda _: None).open()
    try:
        store = SavedEvents(again)
        assert [e["name"] for e in store.list("ImageResizeLambda")] == ["upload"]
        assert store.get("ImageResizeLambda", "upload") == {"Records": [{"s3": {}}]}
        assert store.get("Faults", "raise") == {"action": "raise"}
    finally:
        again.close()


def test_one_sandbox_has_one_store_whatever_app_asks():
    sandbox = StandIn()
    assert saved_events(sandbox) is saved_events(sandbox)
    assert saved_events(sandbox) is not saved_events(StandIn())
    assert saved_events(sandbox).persistent is False
