"""Relay's Python bootstrap: loads a Lambda-style handler and serves invocations.

Started inside the sandbox as `python3 -I -S -B -c "<import this module>"`
(imported rather than run as a script so its compiled form in __pycache__,
written by the adapter on the host, is used). Requests arrive
on fd 3 and replies leave on fd 4, one JSON object per line; stdout and stderr
belong to the function (its logs). The first line on fd 4 says whether the
handler loaded. The process serves requests one at a time until fd 3 reaches
EOF, so module state survives between warm invocations.

Start time matters more than elegance here: nothing is imported that the
interpreter has not already loaded (no `json`, whose `re` import alone costs
~8 ms); traceback and asyncio are imported only when first needed.
"""

import os
import sys
import time

_BOOTSTRAP_FILE = __file__


def _make_codec():
    """JSON via the C accelerator directly, falling back to `json` if its API moved."""
    try:
        import _json

        class _Decoding:
            strict = True
            object_hook = None
            object_pairs_hook = None
            parse_float = float
            parse_int = int

            @staticmethod
            def parse_constant(name):
                raise ValueError("invalid JSON constant " + name)

        scan = _json.make_scanner(_Decoding)

        def loads(text):
            text = text.strip()
            obj, end = scan(text, 0)
            if end != len(text):
                raise ValueError("extra data after the JSON value")
            return obj

        def dumps(obj):
            # A fresh encoder per call: its circular-reference memo is not
            # reset after a failed encode.
            encode = _json.make_encoder(
                {}, _not_serializable, _json.encode_basestring_ascii, None, ":", ",", False, False, False
            )
            return "".join(encode(obj, 0))

        if loads(dumps({"a": [1, 2.5, None, True, "\u00e9"]})) != {"a": [1, 2.5, None, True, "\u00e9"]}:
            raise ValueError("codec self-check failed")
        return loads, dumps
    except Exception:
        import json

        def dumps(obj):
            return json.dumps(obj, allow_nan=False, separators=(",", ":"), default=_not_serializable)

        return json.loads, dumps


def _not_serializable(obj):
    raise TypeError("Object of type " + type(obj).__name__ + " is not JSON serializable")


_loads, _dumps = _make_codec()


class _Channel:
    """The two protocol pipes, moved off fds 3/4 so child processes of the function never inherit them."""

    def __init__(self):
        # os.dup returns a non-inheritable descriptor. Blocking mode, because
        # buffered readline and the write loop below assume it.
        request_fd, self._out = os.dup(3), os.dup(4)
        os.close(3)
        os.close(4)
        os.set_blocking(request_fd, True)
        os.set_blocking(self._out, True)
        self._in = os.fdopen(request_fd, "rb", buffering=1 << 16)

    def read(self):
        return self._in.readline()

    def send(self, message):
        self.send_line(_dumps(message))

    def send_line(self, line):
        _flush_logs()
        data = (line + "\n").encode("ascii")
        view = memoryview(data)
        while view:
            view = view[os.write(self._out, view):]


def _flush_logs():
    # Logs written during an invocation reach their pipe before its reply.
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _error(kind, message, stack=""):
    return {"type": kind, "message": message, "stack": stack}


def _describe(exc):
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable " + type(exc).__name__ + ">"
    return _error(type(exc).__name__, message, _stack(exc))


def _stack(exc):
    """The traceback without the bootstrap's, importlib's and asyncio's own frames."""
    try:
        import traceback

        asyncio_dir = os.path.join(os.path.dirname(os.__file__), "asyncio")
        frames = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename != _BOOTSTRAP_FILE
            and not frame.filename.startswith("<frozen importlib")
            and not frame.filename.startswith(asyncio_dir)
        ]
        lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
        return "Traceback (most recent call last):\n" + "".join(lines)
    except Exception:
        return ""


class LoadError(Exception):
    def __init__(self, kind, message, stack=""):
        super().__init__(message)
        self.error = _error(kind, message, stack)


def _load_handler(entrypoint, task_dir, deps_dir):
    """Imports `module.path.handler` from the task dir; raises LoadError saying why not."""
    module_name, _, attr = entrypoint.replace("/", ".").rpartition(".")
    if not module_name or not attr:
        raise LoadError(
            "ImportModuleError", "Bad handler '" + entrypoint + "': expected 'module.function', e.g. 'main.handler'"
        )
    if deps_dir:
        sys.path.insert(0, deps_dir)
        _process_pth_files(deps_dir)
    sys.path.insert(0, task_dir)
    try:
        os.chdir(task_dir)
        __import__(module_name)
        module = sys.modules[module_name]
    except BaseException as exc:
        stack = _stack(exc)
        raise LoadError(
            "ImportModuleError",
            "Unable to import module '" + module_name + "': " + type(exc).__name__ + ": " + str(exc),
            stack,
        )
    handler = getattr(module, attr, None)
    if handler is None:
        raise LoadError("HandlerNotFound", "Handler '" + attr + "' missing on module '" + module_name + "'")
    if not callable(handler):
        raise LoadError("HandlerNotFound", "Handler '" + attr + "' on module '" + module_name + "' is not callable")
    return handler


def _process_pth_files(deps_dir):
    # Without `site`, .pth files (namespace packages of older wheels) would be
    # ignored; `site` is imported only when a .pth file is actually there.
    try:
        if any(name.endswith(".pth") for name in os.listdir(deps_dir)):
            import site

            site.addsitedir(deps_dir)
    except OSError:
        pass


class LambdaContext:
    """The `context` argument: AWS Lambda's attribute names plus Relay's own."""

    def __init__(self, fields):
        self.execution_id = fields.get("executionId", "")
        self.aws_request_id = self.execution_id
        self.tenant_id = fields.get("tenantId", "")
        self.rufid = fields.get("rufid", "")
        self.branch = fields.get("branch", "")
        self.function_name = fields.get("functionName", "")
        # Lambda exposes these two as strings; existing handlers expect that.
        self.function_version = str(fields.get("version", ""))
        self.memory_limit_in_mb = str(fields.get("memoryLimitMb", ""))
        self.invoked_function_arn = "relay:" + self.tenant_id + ":function:" + self.rufid + ":" + self.branch
        self.log_group_name = "/relay/functions/" + self.rufid
        self.log_stream_name = self.execution_id
        self.identity = None
        self.client_context = None
        self._deadline_ms = fields.get("deadlineMs", 0)

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self):
        return "LambdaContext(execution_id=" + repr(self.execution_id) + ", rufid=" + repr(self.rufid) + ")"


_event_loop = None


def _run_awaitable(awaitable):
    """Runs a coroutine on one event loop kept for the life of the process (warm calls share it)."""
    global _event_loop
    import asyncio

    if _event_loop is None:
        _event_loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_event_loop)
    return _event_loop.run_until_complete(awaitable)


def _invoke(handler, request):
    """Runs one request; returns the encoded reply line (the output is encoded only once)."""
    request_id = request.get("id")
    try:
        result = handler(request.get("input"), LambdaContext(request.get("context") or {}))
        if hasattr(type(result), "__await__"):
            result = _run_awaitable(result)
    except BaseException as exc:
        return _dumps({"id": request_id, "ok": False, "error": _describe(exc)})
    try:
        output = _dumps(result)
    except (TypeError, ValueError, RecursionError) as exc:
        message = "The handler's return value is not JSON serializable: " + str(exc)
        return _dumps({"id": request_id, "ok": False, "error": _error("ResultNotSerializable", message)})
    return '{"id":' + _dumps(request_id) + ',"ok":true,"output":' + output + "}"


def _serve(channel, handler):
    while True:
        line = channel.read()
        if not line:
            return
        if not line.strip():
            continue
        try:
            request = _loads(line.decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError("a request must be a JSON object")
        except Exception as exc:
            channel.send({"id": None, "ok": False, "error": _error("InvalidRequest", str(exc))})
            continue
        channel.send_line(_invoke(handler, request))


def main():
    # The bootstrap dir was put on sys.path only to import this module.
    own_dir = os.path.dirname(_BOOTSTRAP_FILE)
    sys.path[:] = [entry for entry in sys.path if entry != own_dir]
    channel = _Channel()
    try:
        sys.stdout.reconfigure(line_buffering=True)
    except Exception:
        pass
    env = os.environ
    try:
        handler = _load_handler(env.get("RELAY_HANDLER", ""), env.get("RELAY_TASK_DIR", "."), env.get("RELAY_DEPS_DIR"))
    except LoadError as exc:
        channel.send({"ready": False, "error": exc.error})
        os._exit(0)
    channel.send({"ready": True})
    _serve(channel, handler)
    # Deliberately skip interpreter shutdown: the sandbox is going away, and
    # waiting on the function's stray threads or tasks would only delay it.
    _flush_logs()
    os._exit(0)

