/*
 * The WIC (WebRTC IMS Client) the reference WWSF serves: JsSIP 3.13 in the browser.
 *
 * TR 23.701 5.2.2.5.2 from the page:
 *   step 1   POST /login at the WWSF (this page's origin) -> token, identity, eP-CSCF WSS URL
 *   step 2   WSS to the eP-CSCF URL the WWSF returned; the browser sends this page's Origin
 *   step 3   REGISTER with "Authorization: Bearer <token>" (JsSIP's authorization_jwt)
 * and then calls: incoming (5.2.2.5.4: Answer / Hang up) and outgoing (5.2.2.5.3).
 *
 * The token lives in this module's closure only: never in the DOM, in storage or in a
 * global. Built by `npm run build` (esbuild) into dist/wic.js, which the WWSF serves as
 * /wic.js; scripts/install.sh runs the build.
 *
 * What the DOM shows (tests/interop/test_browser_wic.py reads it):
 *   #state       not-logged-in | logging-in | login-failed | connecting | registered |
 *                registration-failed | unregistered | disconnected
 *   #call-state  idle | incoming | calling | ringing | in-call | ended | failed
 *   #call-info   the other party and, when a call ended, why
 */

import JsSIP from 'jssip';

const $ = (id) => document.getElementById(id);

const ui = {
  login: $('login'),
  state: $('state'),
  identity: $('identity'),
  phone: $('phone'),
  dial: $('dial'),
  target: $('target'),
  answer: $('answer'),
  hangup: $('hangup'),
  unregister: $('unregister'),
  callState: $('call-state'),
  callInfo: $('call-info'),
  log: $('log'),
  remoteAudio: $('remote-audio'),
};

let ua = null;
let session = null;

function show(element, value) {
  element.textContent = value;
  element.dataset.value = value;
}

function note(text) {
  const line = document.createElement('li');
  line.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  ui.log.append(line);
}

function setState(value, detail) {
  show(ui.state, value);
  note(detail ? `${value}: ${detail}` : value);
}

function setCall(value, info) {
  show(ui.callState, value);
  if (info !== undefined) ui.callInfo.textContent = info;
  const open = session !== null && !session.isEnded();
  ui.answer.hidden = value !== 'incoming';
  ui.hangup.hidden = !open;
  ui.dial.querySelector('button').disabled = open;
  note(info ? `call ${value}: ${info}` : `call ${value}`);
}

// ----- step 1: web login at the WWSF ------------------------------------------------

async function login(username, password) {
  const reply = await fetch('/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const body = await reply.json().catch(() => ({}));
  if (!reply.ok) throw new Error(`${reply.status} ${body.detail || reply.statusText}`);
  return body;
}

ui.login.addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(ui.login);
  ui.login.querySelector('button').disabled = true;
  setState('logging-in');
  let grant;
  try {
    grant = await login(String(form.get('username')), String(form.get('password')));
  } catch (err) {
    ui.login.querySelector('button').disabled = false;
    setState('login-failed', err.message);
    return;
  }
  ui.login.reset(); // the password leaves the page
  ui.login.hidden = true;
  start(grant);
});

// ----- steps 2-3: JsSIP over WSS to the eP-CSCF ---------------------------------------

function start(grant) {
  const epUrl = typeof grant.ep_cscf === 'string' ? grant.ep_cscf : grant.ep_cscf.uri;
  show(ui.identity, grant.identity);
  ui.identity.dataset.epCscf = epUrl;
  ui.phone.hidden = false;
  setState('connecting', epUrl);

  ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(epUrl)],
    uri: grant.identity,
    // JsSIP 3.13 sends the value as the whole Authorization header value (RFC 8898).
    authorization_jwt: `Bearer ${grant.token}`,
    register: true,
    session_timers: false,
    user_agent: 'JsSIP (wimpu WWSF page)',
  });

  ua.on('connected', () => note('WebSocket connected'));
  ua.on('disconnected', (e) => {
    if (ui.state.dataset.value !== 'unregistered') setState('disconnected', e && e.reason);
  });
  ua.on('registered', (e) => {
    ui.identity.dataset.contact = ua.contact.uri.toString(); // for the tests: which binding is ours
    setState('registered', `${e.response.status_code}`);
  });
  ua.on('registrationFailed', (e) => setState('registration-failed', e.cause));
  ua.on('unregistered', (e) => {
    setState('unregistered', e && e.response ? `${e.response.status_code}` : undefined);
    ua.stop();
  });
  ua.on('newRTCSession', ({ originator, session: rtc, request }) => {
    if (session !== null && !session.isEnded()) {
      if (originator === 'remote') rtc.terminate({ status_code: 486 }); // one call at a time
      return;
    }
    session = rtc;
    const other = originator === 'remote' ? request.from.uri.toString() : request.ruri.toString();
    // 'progress' of an incoming call is the page's own 180: already shown as 'incoming' below
    if (originator === 'local') rtc.on('progress', () => setCall('ringing', other));
    rtc.on('accepted', () => setCall('in-call', other));
    rtc.on('confirmed', () => note('call confirmed (ACK)'));
    rtc.on('ended', (e) => {
      session = null;
      setCall('ended', `${other}: ${e.originator} ${e.cause}`);
    });
    rtc.on('failed', (e) => {
      session = null;
      setCall('failed', `${other}: ${e.originator} ${e.cause}`);
    });
    rtc.on('peerconnection', ({ peerconnection }) => {
      peerconnection.addEventListener('track', ({ streams }) => {
        if (streams[0]) ui.remoteAudio.srcObject = streams[0];
      });
    });
    setCall(originator === 'remote' ? 'incoming' : 'calling', other);
  });
  ua.start();
}

// ----- calls ----------------------------------------------------------------------------

const MEDIA = { mediaConstraints: { audio: true, video: false } };

ui.answer.addEventListener('click', () => {
  if (session && !session.isEnded()) session.answer(MEDIA);
});

ui.hangup.addEventListener('click', () => {
  if (session && !session.isEnded()) session.terminate(); // BYE, CANCEL or 480 as fits
});

ui.dial.addEventListener('submit', (event) => {
  event.preventDefault();
  const target = ui.target.value.trim();
  if (!ua || !target) return;
  ua.call(target, MEDIA);
});

ui.unregister.addEventListener('click', () => {
  if (!ua) return;
  if (session && !session.isEnded()) session.terminate();
  ua.unregister({ all: false }); // Contact ...;expires=0 (TR 23.701 5.2.2.3.2)
});

setState('not-logged-in');
setCall('idle');
