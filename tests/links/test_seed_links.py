import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from links.codes import validate_short_code
from links.models import Link
from links.seeding import seed_code, seed_links


def seed(*args):
    stdout = io.StringIO()
    call_command("seed_links", *args, stdout=stdout)
    return stdout.getvalue()


def codes():
    return sorted(Link.objects.values_list("short_code", flat=True))


@pytest.mark.django_db
def test_seeds_links_with_numbered_valid_codes():
    out = seed("--count", "12")

    assert codes() == [f"seed{n:07d}" for n in range(12)]
    for code in codes():
        validate_short_code(code)
    link = Link.objects.get(short_code="seed0000011")
    assert link.target_url == "https://example.com/seed/11"
    assert (link.click_count, link.is_active, link.owner) == (0, True, None)
    assert link.created_at == link.updated_at
    assert "Inserted 12 links (seed0000000 … seed0000011)" in out


@pytest.mark.django_db
def test_second_run_inserts_nothing_and_keeps_codes_unique():
    seed("--count", "5")

    out = seed("--count", "5")

    assert "Inserted 0 links" in out
    assert "5 existed already" in out
    assert codes() == [seed_code("seed", n) for n in range(5)]


@pytest.mark.django_db
def test_larger_count_adds_only_the_missing_links():
    seed("--count", "3")

    out = seed("--count", "7", "--prefix", "seed")

    assert "Inserted 4 links" in out
    assert len(codes()) == len(set(codes())) == 7


@pytest.mark.django_db
def test_existing_link_with_a_seed_code_is_left_alone():
    Link.objects.create_link(
        target_url="https://example.org/mine", short_code="seed0000001"
    )

    out = seed("--count", "3")

    assert "Inserted 2 links" in out
    assert Link.objects.get(short_code="seed0000001").target_url == (
        "https://example.org/mine"
    )


@pytest.mark.django_db
def test_batches_and_progress_add_up():
    reported = []

    result = seed_links(
        count=10,
        prefix="b-",
        batch_size=4,
        progress=lambda done, count: reported.append(done),
    )

    assert (result.inserted, result.skipped) == (10, 0)
    assert reported == [4, 8, 10]
    assert codes() == [f"b-{n:07d}" for n in range(10)]
    assert seed_links(count=10, prefix="b-", batch_size=4).inserted == 0


@pytest.mark.django_db
def test_owner_and_prefix_are_applied(user):
    seed("--count", "2", "--owner", "alice", "--prefix", "Ab_")

    assert codes() == ["Ab_0000000", "Ab_0000001"]
    assert set(Link.objects.values_list("owner", flat=True)) == {user.pk}


@pytest.mark.django_db
def test_json_output_says_what_was_inserted():
    out = seed("--count", "4", "--json")

    result = json.loads(out)
    assert result["inserted"] == 4
    assert result["skipped"] == 0
    assert (result["first_code"], result["last_code"]) == ("seed0000000", "seed0000003")


@pytest.mark.django_db
def test_seeded_link_redirects_and_counts(client):
    seed("--count", "3")

    response = client.get("/seed0000002")

    assert response.status_code == 302
    assert response["Location"] == "https://example.com/seed/2"
    assert Link.objects.get(short_code="seed0000002").click_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "--count must be 1 or more."),
        (["--count", "5", "--owner", "carol"], "No user named 'carol'."),
        (["--count", "5", "--prefix", "a b"], "--prefix 'a b' does not make valid"),
        (["--count", "5", "--prefix", "x" * 58], "does not make valid codes"),
    ],
)
def test_bad_input_fails_with_one_line(args, message):
    with pytest.raises(CommandError) as error:
        seed(*args)

    assert message in str(error.value)
    assert "\n" not in str(error.value)
    assert not Link.objects.exists()
