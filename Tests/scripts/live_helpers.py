"""What the live scripts share: HTTP calls, waiting for a condition, stopping a process. Each
takes the script's `fail`, which prints its logs and exits."""
import json, signal, subprocess, time, urllib.error, urllib.request


def http(method, url, body=None, token=None):
    """(status, body text); status 0 when nothing answered."""
    request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, ""


def wait_for(what, check, seconds, fail, pause=0.5):
    """`check()`'s first true result within `seconds`, else `fail`."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(pause)
    fail(f"{what} within {seconds} s")


def stop(process, fail):
    """SIGTERM, and `fail` when it does not stop within 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            fail(f"{process.args[0]} did not stop on SIGTERM within 30 s")
