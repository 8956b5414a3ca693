#!/usr/bin/env python3
"""The dashboard in headless Chromium, against `labeler run` fed by a local relay.

A relay (com.atproto.sync.subscribeRepos over WebSocket on 127.0.0.1) serves a capture at a steady
rate, so the labeler keeps labeling while the browser watches. The browser: is refused with a
wrong token, logs in, sees the stored label count and a chart update, searches a label by value
and sees its rule, negates it and sees it negated; a POST without the CSRF token is refused (403)
though the browser sends the session cookie; the cookie is out of the page's reach (HttpOnly);
every resource the pages load comes from the labeler; logout ends the session. Screenshots of
each step go to --screenshots. Every wait is for a condition, with a deadline.

  dashboard_test.py --labeler .build/debug/labeler --capture c.bin --rules rules --work DIR \\
      --screenshots .build/dashboard-screenshots
"""
import argparse, asyncio, json, os, signal, subprocess, sys, threading, time
import urllib.error, urllib.parse, urllib.request

import websockets

from capture_file import read_messages
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TOKEN = 'dashboard-browser-test-token-7f3a9c'
RATE = 100  # relay messages per second


def start_relay(messages):
    """Serves `messages` at RATE per second to each connection, from a thread of its own; returns
    the port."""
    ready = threading.Event()
    port = []

    async def handler(ws):
        start = time.monotonic()
        try:
            for i, message in enumerate(messages):
                delay = start + i / RATE - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                await ws.send(message)
            await ws.wait_closed()
        except websockets.ConnectionClosed:
            pass

    async def serve():
        async with websockets.serve(handler, '127.0.0.1', 0, max_size=None, compression=None) as server:
            port.append(list(server.sockets)[0].getsockname()[1])
            ready.set()
            await asyncio.Future()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    if not ready.wait(30):
        raise SystemExit('the relay did not start')
    return port[0]


def wait_for(what, predicate, timeout=60, interval=0.1):
    """Polls `predicate` until it returns something true; fails naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit('FAILED: gave up waiting for ' + what)
        time.sleep(interval)


def http(url, data=None, headers=None):
    """(status, body) of a request; an HTTP error status is an answer, not an exception."""
    request = urllib.request.Request(url, data=data.encode() if data is not None else None, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


checks = []


def check(name, condition, detail=''):
    checks.append(name)
    if not condition:
        raise SystemExit('FAILED: %s %s' % (name, detail))
    print('ok  ' + name, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--labeler', required=True)
    ap.add_argument('--capture', required=True)
    ap.add_argument('--rules', required=True)
    ap.add_argument('--work', required=True)
    ap.add_argument('--screenshots', required=True)
    args = ap.parse_args()
    os.makedirs(args.screenshots, exist_ok=True)
    started = time.monotonic()

    relay_port = start_relay(read_messages(args.capture))
    env = dict(os.environ,
               LABELER_SOURCE_URL='ws://127.0.0.1:%d' % relay_port, LABELER_SERVER_PORT='0',
               LABELER_SERVER_ADMIN_TOKEN=TOKEN, LABELER_RULES_PATH=os.path.abspath(args.rules),
               LABELER_STORE_PATH=os.path.join(args.work, 'labels.sqlite'),
               LABELER_SIGNING_KEY=os.path.join(args.work, 'signing.key'),
               LABELER_DID='did:plc:dashboardtest', LABELER_LOG_LEVEL='info')
    log_path = os.path.join(args.work, 'run.log')
    log = open(log_path, 'w+')
    labeler = subprocess.Popen([os.path.abspath(args.labeler), 'run'], cwd=args.work, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    driver = None
    try:
        def serving_port():
            if labeler.poll() is not None:
                raise SystemExit('FAILED: labeler run exited:\n' + open(log_path).read()[-3000:])
            for line in open(log_path).read().splitlines():
                if 'serving labels' in line and 'port=' in line:
                    return int(line.split('port=')[1].split()[0].strip('",'))
            return None
        port = wait_for('labeler run to serve', serving_port, timeout=120)
        base = 'http://127.0.0.1:%d' % port

        def first_label():
            status, body = http(base + '/xrpc/com.atproto.label.queryLabels?uriPatterns=*&limit=1')
            labels = json.loads(body).get('labels', []) if status == 200 else []
            return labels[0] if labels else None
        wait_for('the first label from the relay\'s events', first_label, timeout=120)

        # Refusals seen from outside the browser: their statuses.
        status, body = http(base + '/login', data='token=wrong', headers={'Content-Type': 'application/x-www-form-urlencoded'})
        check('a wrong token is refused with 401 and the form again', status == 401 and 'Wrong token' in body
              and 'action="/login"' in body, str(status))
        status, _ = http(base + '/dashboard/api/overview')
        check('the overview JSON needs a session (401)', status == 401, str(status))

        options = webdriver.ChromeOptions()
        options.binary_location = '/usr/bin/chromium'
        for flag in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                     '--window-size=1400,1000', '--no-first-run', '--disable-extensions',
                     '--disable-background-networking', '--disable-component-update', '--disable-sync'):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
        driver.set_page_load_timeout(60)
        driver.set_script_timeout(60)
        wait = WebDriverWait(driver, 60, poll_frequency=0.1)

        def shot(name):
            driver.save_screenshot(os.path.join(args.screenshots, name + '.png'))

        # Login: a wrong token, then the right one.
        driver.get(base + '/')
        wait.until(lambda d: d.find_elements(By.ID, 'login-form'))
        driver.find_element(By.ID, 'token').send_keys('not-the-token')
        driver.find_element(By.ID, 'login-button').click()
        error = wait.until(lambda d: d.find_elements(By.ID, 'login-error'))
        check('the browser shows the wrong token refused', 'Wrong token' in error[0].text)
        check('no session cookie after a wrong token', driver.get_cookie('labeler_session') is None)
        shot('01-login-refused')
        driver.find_element(By.ID, 'token').send_keys(TOKEN)
        driver.find_element(By.ID, 'login-button').click()
        wait.until(lambda d: d.find_elements(By.ID, 'charts'))
        cookie = driver.get_cookie('labeler_session')
        check('login sets an HttpOnly, SameSite=Strict session cookie',
              cookie is not None and cookie.get('httpOnly') and cookie.get('sameSite') == 'Strict', str(cookie))
        check('the page\'s scripts cannot read the session cookie',
              'labeler_session' not in driver.execute_script('return document.cookie'))

        # Overview: the count, and a chart that updates.
        count = int(driver.find_element(By.ID, 'label-count').text.replace(',', ''))
        check('the overview shows the stored labels', count > 0, str(count))

        # The charts are redrawn on every poll, so each is read in one script (an element found
        # before a redraw is gone after it).
        def chart_updated():
            return driver.execute_script(
                'const f = document.getElementById("chart-events"); const p = f.querySelector("polyline");'
                'return Number(f.dataset.updates || 0) >= 3 && p !== null'
                ' && p.getAttribute("points").trim().split(/\\s+/).length >= 2;')
        wait_for('the events chart to update three times', chart_updated, timeout=60)
        rate = driver.execute_script('return document.querySelector("#chart-events .legend").textContent')
        check('the events chart is drawn from the polls', 'events' in rate, rate)
        wait_for('a labels-by-value series', lambda: driver.find_elements(By.CSS_SELECTOR, '#chart-labels polyline'))
        outside = driver.execute_script(
            'return performance.getEntriesByType("resource").map(e => e.name)'
            '.filter(u => !u.startsWith(location.origin + "/"))')
        check('every resource the page loaded came from the labeler', outside == [], str(outside))
        shot('02-overview')

        # Labels: search by value, see the rule in the history.
        label = first_label()
        driver.get(base + '/labels')
        driver.find_element(By.ID, 'search-val').send_keys(label['val'])
        driver.find_element(By.ID, 'search-uri').send_keys(label['uri'])
        driver.find_element(By.ID, 'search-button').click()
        # The results page, once loaded, read in one script: elements found on the page before
        # the form's navigation would go stale under the test.
        found = wait.until(lambda d: 'val=' in d.current_url and d.execute_script(
            'if (document.readyState !== "complete") return null;'
            'const a = document.querySelector("article.label.applied");'
            'return a && {uri: a.dataset.uri, val: a.dataset.val,'
            ' rules: [...a.querySelectorAll("table.history .rule")].map(e => e.textContent)};'))
        check('the search finds the label', found['uri'] == label['uri'] and found['val'] == label['val'], str(found))
        rules = found['rules']
        check('its history names the rule that applied it', len(rules) > 0 and rules[0] != '', str(rules))
        shot('03-label-search')

        # A POST without the CSRF token, from the page itself (the browser sends the cookie): 403.
        status = driver.execute_async_script(
            'const done = arguments[arguments.length - 1];'
            'fetch("/labels/negate", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},'
            ' body: "uri=" + encodeURIComponent(arguments[0]) + "&val=" + encodeURIComponent(arguments[1])})'
            '.then(r => done(r.status), e => done(String(e)));', label['uri'], label['val'])
        check('a POST without the CSRF token is refused with 403', status == 403, str(status))
        status = driver.execute_async_script(
            'const done = arguments[arguments.length - 1];'
            'fetch("/labels/negate", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},'
            ' body: "csrf=0000&uri=" + encodeURIComponent(arguments[0]) + "&val=" + encodeURIComponent(arguments[1])})'
            '.then(r => done(r.status), e => done(String(e)));', label['uri'], label['val'])
        check('a POST with a wrong CSRF token is refused with 403', status == 403, str(status))
        status, _ = http(base + '/labels/negate', data='uri=%s&val=%s' % (urllib.parse.quote(label['uri']), label['val']),
                         headers={'Content-Type': 'application/x-www-form-urlencoded',
                                  'Cookie': 'labeler_session=' + cookie['value']})
        check('a cross-site style POST with the cookie but no CSRF token is refused with 403', status == 403, str(status))
        driver.refresh()
        article = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, 'article.label'))[0]
        check('the refused POSTs changed nothing', 'applied' in article.get_attribute('class'))

        # Negate it with the button.
        article.find_element(By.CSS_SELECTOR, 'input[name=reason]').send_keys('browser test')
        article.find_element(By.CSS_SELECTOR, 'button.negate').click()
        message = wait.until(lambda d: d.find_elements(By.ID, 'message'))[0].text
        check('the negation went through the writer', message.startswith('Negated'), message)
        negated = [a for a in driver.find_elements(By.CSS_SELECTOR, 'article.label')
                   if a.get_attribute('data-val') == label['val']]
        check('the label shows negated', negated and 'negated' in negated[0].get_attribute('class'))
        history = negated[0].find_element(By.CSS_SELECTOR, 'table.history').text
        check('the history has the negation by the dashboard with its reason',
              'negate' in history and 'manual by dashboard' in history and 'browser test' in history, history)
        status, body = http(base + '/xrpc/com.atproto.label.queryLabels?uriPatterns=' + urllib.parse.quote(label['uri']))
        served = [l for l in json.loads(body)['labels'] if l['val'] == label['val']]
        check('queryLabels no longer serves it', status == 200 and served == [], body[:300])
        shot('04-label-negated')

        # Rules: hits, and the playground.
        driver.get(base + '/rules')
        rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#rules-table tr[data-rule]'))
        hits = {r.get_attribute('data-rule'): int(r.find_elements(By.TAG_NAME, 'td')[3].text) for r in rows}
        check('the rules page lists the rules with their hits', sum(hits.values()) > 0, str(hits))
        driver.find_element(By.ID, 'playground-input').send_keys('call me at (555) 201-3344 tonight')
        driver.find_element(By.ID, 'playground-run').click()
        result = wait.until(lambda d: d.find_elements(By.ID, 'playground-result'))[0].text
        check('the playground shows which rule fires and why', 'fired  phone-number' in result
              and '555' in result, result)
        driver.execute_script('document.getElementById("playground-result").scrollIntoView()')
        shot('05-rules-playground')

        # Reports: the queue (empty: this labeler takes no reports here).
        driver.get(base + '/reports')
        empty = wait.until(lambda d: d.find_elements(By.ID, 'no-reports'))
        check('the reports page shows the (empty) queue', 'No report to review' in empty[0].text)

        # Logout ends the session.
        driver.get(base + '/')
        driver.find_element(By.ID, 'logout').click()
        wait.until(lambda d: d.find_elements(By.ID, 'login-form'))
        status, _ = http(base + '/dashboard/api/overview', headers={'Cookie': 'labeler_session=' + cookie['value']})
        check('logout ends the session', status == 401, str(status))
        shot('06-logged-out')
    finally:
        if driver is not None:
            driver.quit()
        if labeler.poll() is None:
            labeler.send_signal(signal.SIGTERM)
            try:
                code = labeler.wait(60)
            except subprocess.TimeoutExpired:
                labeler.kill()
                code = 'killed'
            if sys.exc_info()[0] is None and code != 0:
                raise SystemExit('FAILED: labeler run exited %s on SIGTERM' % code)
    print('dashboard: %d checks passed in %.0f s; screenshots in %s' % (
        len(checks), time.monotonic() - started, args.screenshots))


if __name__ == '__main__':
    main()
