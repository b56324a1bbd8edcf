"""Drives atlas-sandbox's explore server with the official MCP Python SDK (`mcp`).

Usage: explore_client.py BINARY SEMANTIC_ROOT

Runs `BINARY mcp` over stdio and `BINARY serve` over Streamable HTTP, each in the SDK's modern
mode (2026-07-28) and legacy mode (2025-11-25 handshake), and for each: lists the tools, checks
the tool's annotations and schemas, calls `explore` with the contract suite's commands and compares
stdout and the exit code with `bash -c` in the same directory (LC_ALL=C), validates every
structured result against the declared output schema, and checks sessions, an unknown tool and
a too-long command. Prints one line per check; exits 1 on any failure.
"""

import asyncio
import os
import re
import subprocess
import sys

import jsonschema
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BINARY, ROOT = sys.argv[1], sys.argv[2]
ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "ATLAS_SANDBOX__SEMANTIC_ROOT": ROOT,
    "ATLAS_SANDBOX": "just-bash",
    "RUST_LOG": "warn",
}

# The contract suite's comparable commands (crates/atlas-sandbox-testkit, docs/testing.md).
COMMANDS = [
    ("ls", False),
    ("ls -la | wc -l", False),
    ("cat catalog.yml", False),
    ("cat entities/orders.yml", False),
    ("grep -rn customer_id .", True),
    ("grep -c customer_id entities/orders.yml", False),
    ("find . -name '*.yml' | wc -l", False),
    ("find . -name '*.yml' | sort", False),
    ("find . -name '*.yml'", True),
    ("head -5 catalog.yml | sort", False),
    ("wc -l glossary.yml", False),
    ("ls entities && cat catalog.yml | head -3", False),
    ("ls groups/finance/entities", False),
    ("ls catalog.yml", False),
    ("grep nomatch catalog.yml", False),
    ("ls /nonexistent-dir", False),
    ("nosuchcmd", False),
]

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + detail))
    if not ok:
        failures.append(name)


def bash(cmd):
    p = subprocess.run(
        ["bash", "-c", cmd], cwd=ROOT, capture_output=True, env={"LC_ALL": "C", "PATH": ENV["PATH"]}
    )
    return p.stdout.decode("utf-8", "replace"), p.returncode


async def exercise(label, client):
    tools = (await client.list_tools()).tools
    check(f"{label}: one tool named explore", [t.name for t in tools] == ["explore"], str(tools))
    tool = tools[0]
    ann = tool.annotations
    check(
        f"{label}: annotations read-only + idempotent",
        ann is not None and ann.read_only_hint is True and ann.idempotent_hint is True,
        repr(ann),
    )
    check(
        f"{label}: description generated from the layer",
        "catalog.yml" in (tool.description or "") and "entity file(s)" in (tool.description or ""),
        tool.description or "",
    )
    out_schema = tool.output_schema
    check(f"{label}: output schema declared", isinstance(out_schema, dict), repr(out_schema))
    jsonschema.Draft202012Validator.check_schema(out_schema)
    jsonschema.Draft202012Validator.check_schema(tool.input_schema)
    for cmd, unordered in COMMANDS:
        r = await client.call_tool("explore", {"command": cmd})
        sc = r.structured_content
        try:
            jsonschema.validate(sc, out_schema)
            valid = ""
        except jsonschema.ValidationError as e:
            valid = str(e)
        want_out, want_code = bash(cmd)
        got_out = sc.get("stdout") if isinstance(sc, dict) else None
        same = got_out is not None and (
            sorted(got_out.splitlines()) == sorted(want_out.splitlines()) if unordered else got_out == want_out
        )
        check(
            f"{label}: {cmd!r} matches bash",
            not r.is_error and not valid and same and sc["exit_code"] == want_code,
            f"is_error={r.is_error} schema={valid} exit={sc and sc.get('exit_code')} want {want_code}\n"
            f"got {got_out!r}\nwant {want_out!r}",
        )
        text = r.content[0].text if r.content else ""
        check(f"{label}: {cmd!r} text carries stdout", want_out.strip()[:40] in text, text[:200])
    # Sessions: a write is visible in its session only.
    await client.call_tool("explore", {"command": "echo kept > note.txt", "session": "a"})
    r = await client.call_tool("explore", {"command": "cat note.txt", "session": "a"})
    check(f"{label}: session keeps a write", r.structured_content["stdout"] == "kept\n", repr(r.structured_content))
    r = await client.call_tool("explore", {"command": "cat note.txt", "session": "b"})
    check(f"{label}: another session does not see it", r.structured_content["exit_code"] != 0, repr(r.structured_content))
    check(f"{label}: the host layer is untouched", not os.path.exists(os.path.join(ROOT, "note.txt")))
    # A failed command keeps its stdout.
    r = await client.call_tool("explore", {"command": "echo partial; exit 3"})
    sc = r.structured_content
    check(f"{label}: failed command keeps stdout", sc["stdout"] == "partial\n" and sc["exit_code"] == 3, repr(sc))
    # Timeout in seconds.
    r = await client.call_tool("explore", {"command": "sleep 5", "timeout": 0.5})
    sc = r.structured_content
    check(f"{label}: timeout 0.5 s", sc["timed_out"] and sc["exit_code"] == 124, repr(sc))
    # Bad input: a clear tool error, and the server keeps serving.
    r = await client.call_tool("explore", {"command": "x" * 5000})
    check(f"{label}: 5000-char command is a clear error", r.is_error and "4000" in r.content[0].text, repr(r))
    r = await client.call_tool("explore", {"command": "true", "layer": "nope"})
    check(f"{label}: unknown layer refused", r.is_error and "does not exist or is not available" in r.content[0].text, repr(r))
    try:
        r = await client.call_tool("no_such_tool", {})
        check(f"{label}: unknown tool refused", r.is_error, repr(r))
    except Exception as e:  # a JSON-RPC error is the other correct answer
        check(f"{label}: unknown tool refused", "unknown tool" in str(e) or "no_such_tool" in str(e), str(e))
    r = await client.call_tool("explore", {"command": "echo still-serving"})
    check(f"{label}: still serving", r.structured_content["stdout"] == "still-serving\n", repr(r))


async def stdio(mode):
    params = StdioServerParameters(command=BINARY, args=["mcp"], env=ENV)
    async with Client(params, mode=mode) as c:
        print(f"# stdio {mode}: protocol {c.protocol_version}")
        await exercise(f"stdio/{mode}", c)


async def http(mode):
    proc = await asyncio.create_subprocess_exec(
        BINARY, "serve", "--listen", "127.0.0.1:0", env=ENV, stderr=asyncio.subprocess.PIPE
    )
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        url = re.search(r"http://[0-9.:]+", line).group(0) + "/mcp"

        async def relay():
            async for l in proc.stderr:
                sys.stderr.write("[serve] " + l.decode("utf-8", "replace"))

        relay_task = asyncio.ensure_future(relay())
        transport = streamable_http_client(url, http_client=create_mcp_http_client(headers={}))
        async with Client(transport, mode=mode) as c:
            print(f"# http {mode}: protocol {c.protocol_version}")
            await exercise(f"http/{mode}", c)
    finally:
        proc.terminate()
        rc = await asyncio.wait_for(proc.wait(), 20)
        await asyncio.sleep(0.1)
        check(f"http/{mode}: SIGTERM exits cleanly", rc == 0, f"exit {rc}")


async def main():
    for mode in ["auto", "legacy"]:
        await stdio(mode)
        await http(mode)
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


asyncio.run(main())
