"""A skill's calls to an address its portal's admin gave reach the internet only: never loopback, a private
network or a cloud's metadata address, written out, behind a name or behind a redirect. Each refusal is
proved by a listener on loopback that counts the requests it received."""

import contextlib
import gzip
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import httpcore
import httpx
import pytest
from django.utils import translation

from botcore.skills import outside_addresses
from botcore.skills.base import Skill
from botcore.skills.options import FieldError, OptionsError, OptionsSchema, OutsideUrl
from botcore.skills.outbound import MAX_ANSWER_BYTES, OutsideAddressError, check_outside_url, outside_client
from botcore.vibe.events import EventType


def post(url: str, *, timeout: float = 2, **kwargs) -> httpx.Response:
    with outside_client(timeout=timeout, **kwargs) as client:
        return client.post(url, json={"summary": "x"}, headers={"Authorization": "Bearer tok"})


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "[::1]", "10.1.2.3", "169.254.169.254", "localhost", "127.1", "[::ffff:127.0.0.1]",
     "[64:ff9b::a9fe:a9fe]", "[2002:7f00:1::]",  # NAT64's and 6to4's forms of an inward IPv4 address
     # Python counts these global: IPv4-compatible (::a.b.c.d) and IPv4-translated (SIIT's ::ffff:0:a.b.c.d)
     # forms, a local-use NAT64 prefix (RFC 8215) and IPv6's site-local range
     "[::127.0.0.1]", "[::ffff:0:127.0.0.1]", "[64:ff9b:1::a9fe:a9fe]", "[fec0::1]"],
)  # fmt: skip
def test_an_inward_address_is_refused_before_anything_is_sent(listener, host):
    with pytest.raises(OutsideAddressError, match="private network or this host"):
        post(f"http://{host}:{listener.port}/api/issues")
    assert listener.requests == []


def test_a_name_that_resolves_to_loopback_is_refused_at_the_connection(listener, resolver):
    resolver["tracker.test"] = ["127.0.0.1"]
    check_outside_url(f"http://tracker.test:{listener.port}/")  # a name passes when saved: nothing resolved
    with pytest.raises(OutsideAddressError, match="leads to a private network"):
        post(f"http://tracker.test:{listener.port}/api/issues")
    assert listener.requests == []


def test_a_name_with_a_public_and_an_inward_address_is_refused_whole(listener, resolver):
    resolver["tracker.test"] = ["93.184.216.34", "127.0.0.1"]
    with pytest.raises(OutsideAddressError):
        post(f"http://tracker.test:{listener.port}/api/issues")
    assert listener.requests == []


def test_a_redirect_to_an_inward_address_is_refused(listener, second_listener, resolver, settings):
    # The first hop is a host the operator allowed (so a test can serve it on loopback); it redirects to
    # another service on this host, which is not allowed.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["tracker.internal"]
    resolver["tracker.internal"] = ["127.0.0.1"]
    listener.redirect_to = f"http://localhost:{second_listener.port}/secret"
    with pytest.raises(OutsideAddressError):
        post(f"http://tracker.internal:{listener.port}/api/issues", follow_redirects=True)
    assert (len(listener.requests), second_listener.requests) == (1, [])
    # Not followed (the default): the redirect comes back as an answer, and nothing reaches the second.
    assert post(f"http://tracker.internal:{listener.port}/api/issues").status_code == 307
    assert (len(listener.requests), second_listener.requests) == (2, [])


def test_a_host_the_operator_allowed_is_reached(listener, settings):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    assert post(f"http://127.0.0.1:{listener.port}/api/issues").json() == {"key": "INTERNAL-1"}
    assert listener.requests == ["/api/issues"]


def test_an_answer_dripped_a_byte_at_a_time_ends_at_the_call_s_timeout(listener, settings):
    # The timeout is each read's: a server sending a byte just within it held the call (and its task
    # worker) as long as it liked, 40 bytes at 0.1 s: 4 s of a 1 s timeout. Told by what ended first, not by
    # the seconds a loaded host took: the answer takes a minute to send, the call ends long before.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    listener.body, listener.drip_seconds = b"x" * 600, 0.1
    with outside_client(timeout=1) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"http://127.0.0.1:{listener.port}/api/issues")
    assert listener.dripped < len(listener.body), (
        "the call ended at its timeout, with the answer still coming"
    )


def test_an_answer_past_the_size_limit_is_not_read(listener, settings):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    listener.body = b"x" * (MAX_ANSWER_BYTES + 1)
    with outside_client(timeout=5) as client, pytest.raises(httpx.ReadError, match="larger than"):
        client.post(f"http://127.0.0.1:{listener.port}/api/issues")
    listener.body = b"x" * (MAX_ANSWER_BYTES - 1000)  # headers and all, within it
    with outside_client(timeout=5) as client:
        assert len(client.post(f"http://127.0.0.1:{listener.port}/api/issues").content) == len(listener.body)


def test_a_compressed_answer_is_not_unpacked_past_the_size_limit(listener, settings):
    # 1 MiB of gzip unpacks to about 1 GiB: the limit on the wire alone let it into memory.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    listener.body, listener.headers = (
        gzip.compress(b"x" * (4 * MAX_ANSWER_BYTES)),
        {"Content-Encoding": "gzip"},
    )
    with outside_client(timeout=5) as client, pytest.raises(httpx.DecodingError):
        client.post(f"http://127.0.0.1:{listener.port}/api/issues")
    assert listener.request_headers[-1]["accept-encoding"] == "identity"


def test_a_public_address_is_called_on_the_address_checked(resolver, monkeypatch):
    resolver["tracker.example"] = ["93.184.216.34"]
    connected = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        connected.append((host, port))  # in place of the socket: the test stays off the network
        body = b'{"key": "HD-9"}'
        head = b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(body)
        return httpcore.MockStream([head, body])

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    answer = post("http://tracker.example/api/issues")
    assert (answer.status_code, answer.json()) == (201, {"key": "HD-9"})
    assert connected == [("93.184.216.34", 80)]  # the checked address itself, not the name looked up again


@pytest.mark.parametrize("url", ["http://xn--a.example/", "https://xn--tracker-.example/api"])
def test_a_host_that_is_no_valid_international_name_is_refused_as_an_address(url):
    # httpx reads an "xn--" host as it is and raises idna's own error when asked for its name: the check
    # raised it, a 500 on the settings page. (httpx raises it too building a request to it, before any
    # transport: the option refusing it keeps it from a skill's calls.)
    with pytest.raises(OutsideAddressError, match="http:// or https://"):
        check_outside_url(url)
    with pytest.raises(OptionsError) as refused:
        OptionsSchema(url=OutsideUrl()).validate({"url": url})
    assert refused.value.errors["url"] == "must be an http:// or https:// address"


# Addresses httpx cannot build a request to, or whose name it cannot decode, or no resolver answers.
MALFORMED = ["http:127.0.0.1", "http://[::1", "http://xn--a.example/", "http://exa mple.com/"]


def test_a_resolver_that_does_not_answer_ends_at_the_call_s_timeout(monkeypatch):
    # socket.getaddrinfo takes no timeout: a resolver that did not answer held the call (and its task worker)
    # until the system's resolver gave up, past the whole-request timeout.
    # Told by what ended first, not by the seconds it took (a loaded host's are no measure): the resolver
    # answers only once the test lets it, or gives up after half a minute.
    released = threading.Event()
    answered: list[str] = []
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "slow.example":
            released.wait(30)  # no answer (until the test ends, so that a failing one ends too)
            answered.append(host)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return original(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        with pytest.raises(httpx.ConnectTimeout):
            post("http://slow.example/api/issues", timeout=1)
        assert answered == [], "the call ended at its own timeout, while the resolver still had no answer"
    finally:
        released.set()


def test_a_name_refused_because_every_look_up_thread_is_held_says_so_not_that_it_did_not_resolve(
    monkeypatch, caplog
):
    """All RESOLVER_THREADS held by names whose resolver does not answer: a further name waits for a thread
    within its call's timeout, and was refused as "did not resolve", though it was never looked up. The
    refusal and a log line say what held it (the threads stay bounded: a skill looping over hanging names must
    not grow them)."""
    released = threading.Event()
    looked_up: list[str] = []
    held = threading.Semaphore(0)

    def getaddrinfo(host, port, *args, **kwargs):
        looked_up.append(host)
        if host.startswith("hang"):
            held.release()
            released.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    pool = outside_addresses._resolvers.get()
    hanging = [
        pool.submit(socket.getaddrinfo, f"hang{n}.example", 443)
        for n in range(outside_addresses.RESOLVER_THREADS)
    ]
    try:
        assert all(held.acquire(timeout=10) for _ in hanging)  # every thread holds a hanging look-up
        with pytest.raises(httpcore.ConnectTimeout) as refused:
            outside_addresses.resolve_outside("next.example", 443, timeout=0.2)
        assert f"all {outside_addresses.RESOLVER_THREADS} name look-up threads are held" in str(refused.value)
        assert "next.example" not in looked_up  # never looked up: it was not the name that failed
        assert f"all {outside_addresses.RESOLVER_THREADS} name look-up threads are held" in caplog.text
    finally:
        released.set()
        for lookup in hanging:
            with contextlib.suppress(socket.gaierror):
                lookup.result(10)
    # The threads back, the name is looked up at once.
    assert outside_addresses.resolve_outside("next.example", 443, timeout=5) == ["93.184.216.34"]
    assert looked_up.count("next.example") == 1


def test_a_name_is_never_looked_up_without_a_bound(monkeypatch):
    """resolve_outside waits for its look-up thread: with no timeout it waited as long as the system's
    resolver liked, holding the task worker. A bound is required by its signature, so no caller can leave
    it out."""
    looked_up: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(TypeError, match="timeout"):
        outside_addresses.resolve_outside("next.example", 443)  # type: ignore[call-arg]
    assert looked_up == []


@pytest.mark.parametrize(
    "url", ["http://tracker.example:6379/", "https://tracker.example:22/api", "http://93.184.216.34:25/"]
)
def test_a_port_other_than_the_web_s_is_refused(url):
    with pytest.raises(OutsideAddressError, match=r"must use one of the ports 80, 443$"):
        check_outside_url(url)
    check_outside_url("http://tracker.example:443/")  # either web port, whatever the scheme
    check_outside_url("https://tracker.example:80/")


def test_a_port_is_called_only_once_the_operator_allows_it(listener, resolver, settings):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["tracker.internal"]
    resolver["tracker.internal"] = ["127.0.0.1"]
    settings.BOTCORE_OUTSIDE_PORTS_ALLOWED = []
    with pytest.raises(OutsideAddressError, match="80, 443"):
        post(f"http://tracker.internal:{listener.port}/api/issues")
    assert listener.requests == []
    settings.BOTCORE_OUTSIDE_PORTS_ALLOWED = [8443, listener.port]
    with pytest.raises(OptionsError) as refused:
        OptionsSchema(url=OutsideUrl()).validate({"url": "https://tracker.example:6379/"})
    assert refused.value.errors["url"] == f"must use one of the ports 80, 443, 8443, {listener.port}"
    assert post(f"http://tracker.internal:{listener.port}/api/issues").status_code == 201


def test_a_redirect_to_a_port_not_allowed_is_refused(listener, second_listener, resolver, settings):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["tracker.internal"]
    resolver["tracker.internal"] = ["127.0.0.1"]
    settings.BOTCORE_OUTSIDE_PORTS_ALLOWED = [listener.port]
    listener.redirect_to = f"http://tracker.internal:{second_listener.port}/elsewhere"
    with pytest.raises(OutsideAddressError, match="ports"):
        post(f"http://tracker.internal:{listener.port}/api/issues", follow_redirects=True)
    assert (len(listener.requests), second_listener.requests) == (1, [])


@pytest.mark.parametrize(
    ("allowed", "called"),
    [
        ("пример.test", "пример.test"),
        ("xn--e1afmkfd.test", "пример.test"),
        ("ПРИМЕР.test.", "xn--e1afmkfd.test"),
    ],
)
def test_an_international_host_the_operator_allowed_is_reached_in_either_spelling(
    listener, resolver, settings, allowed, called
):
    # Compared as written, "пример.test" allowed never matched the "xn--e1afmkfd.test" a connection asks for:
    # the host allowed was refused as leading to this host.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = [allowed]
    resolver["xn--e1afmkfd.test"] = ["127.0.0.1"]
    assert post(f"http://{called}:{listener.port}/api/issues").status_code == 201
    assert listener.requests == ["/api/issues"]


@pytest.mark.parametrize(
    "location",
    [*MALFORMED, "http:127.0.0.1/admin"],
)
def test_a_malformed_redirect_is_refused_as_a_malformed_address(listener, resolver, settings, location):
    # httpx raised its own InvalidURL (no httpx.HTTPError: past a skill's `except httpx.HTTPError`) building
    # the redirect to "http:127.0.0.1", a RemoteProtocolError for a Location it could not parse, idna's
    # UnicodeError for an undecodable international name; "exa mple.com" went to the resolver.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["tracker.internal"]
    resolver["tracker.internal"] = ["127.0.0.1"]
    listener.redirect_to = location
    with pytest.raises(OutsideAddressError, match="http:// or https://"):
        post(f"http://tracker.internal:{listener.port}/api/issues", follow_redirects=True)
    assert len(listener.requests) == 1


@pytest.mark.parametrize("location", ["http:127.0.0.1", "http://[::1"])
def test_a_redirect_httpx_cannot_build_is_refused_though_not_followed(listener, resolver, settings, location):
    # httpx builds the redirect's request to hand it back (`next_request`) even when it does not follow it.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["tracker.internal"]
    resolver["tracker.internal"] = ["127.0.0.1"]
    listener.redirect_to = location
    with pytest.raises(OutsideAddressError, match="http:// or https://"):
        post(f"http://tracker.internal:{listener.port}/api/issues")


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_address_called_is_refused_as_one(url):
    with pytest.raises(OutsideAddressError, match="http:// or https://"):
        post(url)


def test_an_answer_read_in_another_thread_keeps_the_call_s_timeout(listener, settings):
    # The bounds lived in the calling thread's context: the same answer read by a worker thread of the skill's
    # had no deadline and no size limit (40 bytes at 0.1 s read in 4 s of a 1 s timeout). Told as above: the
    # answer takes a minute to send, the read ends long before.
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    listener.body, listener.drip_seconds = b"x" * 600, 0.1
    with (
        outside_client(timeout=1) as client,
        client.stream("POST", listener.url) as answer,
        ThreadPoolExecutor(1) as pool,
        pytest.raises(httpx.ReadTimeout),
    ):
        pool.submit(answer.read).result()
    assert listener.dripped < len(listener.body), (
        "the read ended at the call's timeout, the answer still coming"
    )


def test_two_answers_read_in_turn_each_keep_their_own_size_limit(listener, second_listener, settings):
    # The latest call's bounds were every answer's in the thread: the first answer, read after a second
    # call, was counted against what the second had left (and given its later deadline).
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    listener.body = second_listener.body = b"x" * (MAX_ANSWER_BYTES * 3 // 5)
    with outside_client(timeout=5) as client, client.stream("POST", listener.url) as first:
        assert len(client.post(second_listener.url).content) == len(second_listener.body)
        assert len(first.read()) == len(listener.body)


def test_credentials_in_the_address_and_other_schemes_are_refused():
    with pytest.raises(OutsideAddressError, match="user name or password"):
        post("http://user:pass@tracker.example/api")
    with pytest.raises(OutsideAddressError, match="http:// or https://"):
        check_outside_url("file:///etc/passwd")


def test_the_option_refuses_inward_addresses_when_the_admin_saves_them():
    schema = OptionsSchema(url=OutsideUrl())
    for url, why in [
        (
            "http://127.0.0.1:8000/",
            "must be an address on the internet, not on a private network or this host",
        ),
        ("https://169.254.169.254/latest/meta-data", "must be an address on the internet, not on a private"),
        ("http://[fd00::1]/", "must be an address on the internet"),
        ("http://0x7f000001/", "must be an address on the internet"),
        ("https://me:secret@tracker.example/", "must not carry a user name or password"),
        ("gopher://tracker.example/", "must be an http:// or https:// address"),
    ]:
        with pytest.raises(OptionsError) as refused:
            schema.validate({"url": url})
        assert refused.value.errors["url"].startswith(why), url
    assert schema.validate({"url": "https://tracker.example/api"}) == {"url": "https://tracker.example/api"}
    assert schema.validate({}) == {"url": ""}
    assert schema.describe()["url"]["kind"] == "outside_url"


def test_the_option_takes_an_inward_host_the_operator_allowed(settings):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["10.0.0.7"]
    assert OutsideUrl().clean("http://10.0.0.7/api") == "http://10.0.0.7/api"


@pytest.mark.django_db
def test_the_settings_page_offers_an_address_field_and_refuses_an_inward_address(settings):
    from botcore.models import SkillConfig
    from tests.botcore.skills.test_portal_admin import make_portal, signed_in

    settings.BOTCORE_SKILLS = ["help", "tests.botcore.skills.test_outbound.HookSkill", "echo"]
    admin = signed_in(make_portal("acme"), is_admin=True)
    assert 'type="url"' in admin.get("/portal/skills/hook/").content.decode()
    refused = admin.post("/portal/skills/hook/", {"url": "http://169.254.169.254/latest/meta-data/"})
    assert refused.status_code == 400
    assert (
        "must be an address on the internet, not on a private network or this host"
        in refused.content.decode()
    )
    assert not SkillConfig.objects.filter(skill_name="hook").exists()
    assert admin.post("/portal/skills/hook/", {"url": "http://xn--a.example/"}).status_code == 400
    assert not SkillConfig.objects.filter(skill_name="hook").exists()


def test_the_refusal_is_in_the_readers_language():
    with translation.override("ru"), pytest.raises(FieldError) as refused:
        OutsideUrl().clean("http://10.0.0.1/")
    assert str(refused.value) == "нужен адрес в интернете, а не во внутренней сети или на этом сервере"  # noqa: RUF001


class HookSkill(Skill):
    """A skill that posts to a webhook its portal's admin gives (the settings page's test above)."""

    name = "hook"
    event_types = frozenset({EventType.MESSAGE_ADD})
    options_schema = OptionsSchema(url=OutsideUrl(label={"en": "Webhook"}))
    title = {"en": "Hook"}
    summary = {"en": "Posts to a webhook"}

    def handle(self, event, ctx) -> None:
        pass
