#!/usr/bin/env node
/*
 * JsSIP, in Node, as a WIC (WebRTC IMS Client) against the wIMPU reference stack.
 *
 * TR 23.701 5.2.2.5.2 from the client side, with a WIC nobody in this project wrote:
 *   step 1   HTTPS POST <origin>/login at the WWSF -> token, identity, eP-CSCF WSS URL
 *   step 2   WSS to the eP-CSCF, subprotocol "sip", Origin: <WWSF origin>, test CA trusted
 *   step 3   JsSIP REGISTER with "Authorization: Bearer <token>" (JsSIP's authorization_jwt)
 *
 * Output: one JSON object per line on stdout, one per event, for tests/interop/test_jssip.py:
 *   {"event":"login","identity":...,"ep_cscf":...}
 *   {"event":"connected"} / {"event":"disconnected",...}
 *   {"event":"registered","status":200,"contacts":[...],"p_associated_uri":...}
 *   {"event":"registrationFailed","status":403,"cause":"Forbidden"}
 *   {"event":"unregistered","status":200,"cause":null}
 *   {"event":"newRTCSession","originator":"remote","direction":"incoming","from":...,"to":...,
 *    "ruri":...,"call_id":...,"p_called_party_id":...,"record_route":[...],"has_sdp":true}
 *   {"event":"progress",...} {"event":"accepted",...} {"event":"confirmed",...}
 *   {"event":"ended","originator":...,"cause":...,"method":"BYE"|null,"reason":<Reason>|null}
 *   {"event":"failed","originator":...,"cause":"Canceled",...,"method":"CANCEL","reason":<Reason>}
 *      (method/reason: the SIP message JsSIP attaches to the event, e.g. the CANCEL request)
 *   {"event":"wire","dir":"out"|"in","data":"<SIP message>"}   (only with --trace)
 *   {"event":"handshakeRefused","status":403}                 (WebSocket handshake refused)
 *   {"event":"error","message":...}                            (then exit status 1)
 *   {"event":"exit","code":0}
 * Diagnostics go to stderr (JsSIP's own log with DEBUG=JsSIP:*).
 *
 * Modes:
 *   register  register, then wait for a line "stop" on stdin (or --timeout seconds, or
 *             stdin closing), un-REGISTER (Expires: 0), exit.
 *   answer    as register, and answer each incoming INVITE after --answer-after ms.
 *   ring      as register, and leave each incoming INVITE ringing (180) until stop.
 * Lines on stdin: "stop" (un-REGISTER and leave; open sessions get BYE/480 from JsSIP's
 * ua.stop()), "hangup" (terminate every open session: BYE, or 480 while ringing).
 *
 * NO MEDIA IN NODE: Node has no RTCPeerConnection. For answer/ring, a minimal stub
 * (StubPeerConnection below) stands in for it: it accepts any remote offer and answers
 * with a fixed SDP that mirrors the offer's m-lines with a=inactive and a dummy
 * connection address. No ICE, DTLS or RTP happens; only the SIP signalling is real.
 *
 * Arguments (each also from the environment variable in brackets):
 *   --origin  [WIC_ORIGIN]    WWSF origin, e.g. https://127.0.0.1:8443
 *   --username [WIC_USERNAME] --password [WIC_PASSWORD]
 *   --ca      [WIC_CA]        PEM file of the test CA (reference.tls.TestPki.ca_path)
 *   --mode    [WIC_MODE]      register (default) | answer | ring
 *   --timeout [WIC_TIMEOUT]   seconds before giving up and stopping (default 30)
 *   --answer-after [WIC_ANSWER_AFTER]  ms before answering in answer mode (default 0)
 *   --trace   [WIC_TRACE=1]   also print every SIP message sent and received (includes the token)
 */

'use strict';

const fs = require('fs');
const readline = require('readline');
const { parseArgs } = require('util');
const WS = require('ws');

// ----- arguments ---------------------------------------------------------------------

const { values: argv } = parseArgs({
  options: {
    origin: { type: 'string', default: process.env.WIC_ORIGIN },
    username: { type: 'string', default: process.env.WIC_USERNAME },
    password: { type: 'string', default: process.env.WIC_PASSWORD },
    ca: { type: 'string', default: process.env.WIC_CA },
    mode: { type: 'string', default: process.env.WIC_MODE || 'register' },
    timeout: { type: 'string', default: process.env.WIC_TIMEOUT || '30' },
    'answer-after': { type: 'string', default: process.env.WIC_ANSWER_AFTER || '0' },
    trace: { type: 'boolean', default: process.env.WIC_TRACE === '1' },
  },
  strict: true,
});

function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');
}

let exiting = false;
function exit(code) {
  if (exiting) return;
  exiting = true;
  emit('exit', { code });
  // Let stdout drain before leaving.
  process.stdout.write('', () => process.exit(code));
}

function fail(message) {
  emit('error', { message });
  exit(1);
}

for (const name of ['origin', 'username', 'password', 'ca']) {
  if (!argv[name]) {
    process.stderr.write(`wic.js: --${name} (or WIC_${name.toUpperCase()}) is required\n`);
    process.exit(2);
  }
}
if (!['register', 'answer', 'ring'].includes(argv.mode)) {
  process.stderr.write(`wic.js: unknown --mode ${argv.mode} (register, answer, ring)\n`);
  process.exit(2);
}
const ORIGIN = argv.origin.replace(/\/+$/, '');
const CA = fs.readFileSync(argv.ca);
const TIMEOUT_MS = Number(argv.timeout) * 1000;
const ANSWER_AFTER_MS = Number(argv['answer-after']);

// ----- the browser environment JsSIP expects --------------------------------------------

/*
 * A W3C WebSocket as JsSIP's WebSocketInterface creates it (`new WebSocket(url, 'sip')`),
 * with what a browser on the WWSF page would add: the page's Origin. The test CA is
 * trusted for the TLS handshake (a browser would have it in its trust store).
 */
class WicWebSocket extends WS {
  constructor(url, protocols) {
    super(url, protocols, { origin: ORIGIN, ca: CA });
    WicWebSocket.current = this;
    this.on('unexpected-response', (req, res) => {
      emit('handshakeRefused', { status: res.statusCode });
    });
    if (argv.trace) {
      this.on('message', (data) => emit('wire', { dir: 'in', data: data.toString() }));
    }
  }

  send(data, ...rest) {
    if (argv.trace) emit('wire', { dir: 'out', data: String(data) });
    return super.send(data, ...rest);
  }
}

/* NO MEDIA IN NODE: a stand-in RTCPeerConnection so incoming INVITEs can be answered. */
class StubPeerConnection extends EventTarget {
  constructor() {
    super();
    this.signalingState = 'stable';
    this.iceGatheringState = 'complete'; // JsSIP then sends the answer at once
    this.iceConnectionState = 'new';
    this.connectionState = 'new';
    this.localDescription = null;
    this.remoteDescription = null;
    this._senders = [];
  }

  async setRemoteDescription(desc) {
    this.remoteDescription = new StubSessionDescription(desc);
    this.signalingState = desc.type === 'offer' ? 'have-remote-offer' : 'stable';
  }

  async setLocalDescription(desc) {
    this.localDescription = new StubSessionDescription(desc);
    this.signalingState = desc.type === 'offer' ? 'have-local-offer' : 'stable';
  }

  async createAnswer() {
    const offer = this.remoteDescription ? this.remoteDescription.sdp : '';
    return { type: 'answer', sdp: fixedSdp(offer) };
  }

  async createOffer() {
    return { type: 'offer', sdp: fixedSdp('') };
  }

  addTrack(track) {
    const sender = { track, replaceTrack: async () => {} };
    this._senders.push(sender);
    return sender;
  }

  getSenders() {
    return this._senders.slice();
  }

  getReceivers() {
    return [];
  }

  getLocalStreams() {
    return [];
  }

  getRemoteStreams() {
    return [];
  }

  close() {
    this.signalingState = 'closed';
  }
}

class StubSessionDescription {
  constructor({ type, sdp }) {
    this.type = type;
    this.sdp = sdp;
  }
}

/*
 * A fixed SDP answer: one m-line per offered m-line (RFC 3264 6), same media and first
 * payload type, a=inactive, c=IN IP4 0.0.0.0. Without an offer: one inactive audio line.
 */
function fixedSdp(offer) {
  const lines = [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=wimpu-jssip-no-media',
    't=0 0',
  ];
  const mlines = offer.split(/\r?\n/).filter((l) => l.startsWith('m='));
  if (mlines.length === 0) mlines.push('m=audio 9 UDP/TLS/RTP/SAVPF 0');
  for (const m of mlines) {
    const [media, , proto, ...fmts] = m.slice(2).trim().split(/\s+/);
    lines.push(`m=${media} 9 ${proto} ${fmts[0] || '0'}`);
    lines.push('c=IN IP4 0.0.0.0');
    lines.push('a=inactive');
  }
  return lines.join('\r\n') + '\r\n';
}

global.WebSocket = WicWebSocket;
global.RTCPeerConnection = StubPeerConnection;
global.RTCSessionDescription = StubSessionDescription;
global.window = global; // JsSIP checks window.RTCPeerConnection before accepting an INVITE

const JsSIP = require('jssip');
const { login: wwsfLogin } = require('../shared/wwsf-login.cjs');

// ----- step 1: web login at the WWSF ---------------------------------------------------

function login() {
  return wwsfLogin({ origin: ORIGIN, ca: CA, username: argv.username, password: argv.password });
}

// ----- steps 2-3: JsSIP ----------------------------------------------------------------

function statusOf(response) {
  return response ? response.status_code : null;
}

function runUa(session) {
  const epUrl = typeof session.ep_cscf === 'string' ? session.ep_cscf : session.ep_cscf.uri;
  emit('login', { identity: session.identity, ep_cscf: epUrl });

  const socket = new JsSIP.WebSocketInterface(epUrl);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: session.identity,
    // JsSIP 3.13: the value is sent as the whole Authorization header value.
    authorization_jwt: `Bearer ${session.token}`,
    register: true,
    session_timers: false,
    user_agent: 'JsSIP (wimpu interop, Node)',
  });

  let stopping = false;
  let registeredOnce = false;

  ua.on('connected', () => emit('connected'));
  ua.on('disconnected', (e) => {
    emit('disconnected', { error: Boolean(e && e.error), code: e && e.code, reason: e && e.reason });
    if (!stopping && !registeredOnce) {
      // Never got registered and the transport is gone (e.g. Origin refused): give up.
      stopping = true;
      ua.stop();
      exit(1);
    }
  });
  ua.on('registered', (e) => {
    registeredOnce = true;
    const r = e.response;
    emit('registered', {
      status: statusOf(r),
      contacts: r.getHeaders('contact'),
      p_associated_uri: r.getHeader('p-associated-uri') || null,
      expires: r.getHeader('expires') || null,
    });
  });
  ua.on('registrationFailed', (e) => {
    emit('registrationFailed', {
      status: statusOf(e.response),
      reason: e.response ? e.response.reason_phrase : null,
      cause: e.cause,
    });
    if (!registeredOnce) stop(1);
  });
  ua.on('unregistered', (e) => {
    emit('unregistered', { status: statusOf(e && e.response), cause: (e && e.cause) || null });
    if (stopping) finish(0);
  });

  const sessions = new Set();
  ua.on('newRTCSession', ({ originator, session: rtc, request }) => {
    sessions.add(rtc);
    emit('newRTCSession', {
      originator,
      direction: rtc.direction,
      from: request.from ? request.from.uri.toString() : null,
      to: request.to ? request.to.uri.toString() : null,
      ruri: request.ruri ? request.ruri.toString() : null,
      call_id: request.call_id,
      p_called_party_id: request.getHeader('p-called-party-id') || null,
      record_route: request.getHeaders('record-route'),
      has_sdp: Boolean(request.body),
    });
    const cseq = (m) => (m && m.cseq !== undefined ? `${m.cseq} ${m.method || ''}`.trim() : null);
    rtc.on('progress', (e) => emit('progress', { originator: e.originator }));
    rtc.on('accepted', (e) => emit('accepted', { originator: e.originator }));
    rtc.on('confirmed', (e) => emit('confirmed', {
      originator: e.originator,
      // The ACK that confirmed an incoming session (JsSIP passes it as e.ack).
      ack: e.ack ? { method: e.ack.method, cseq: cseq(e.ack) } : null,
    }));
    // 'ended' and 'failed' carry the SIP message that caused them (e.message): the BYE,
    // the CANCEL (with its Reason), or a response; report its method, status and Reason.
    const why = (e) => {
      const m = e.message;
      return {
        originator: e.originator,
        cause: e.cause,
        method: m && m.method ? m.method : null,
        status: m && m.status_code ? m.status_code : null,
        reason: m && typeof m.getHeader === 'function' ? m.getHeader('reason') || null : null,
      };
    };
    rtc.on('ended', (e) => {
      sessions.delete(rtc);
      emit('ended', why(e));
    });
    rtc.on('failed', (e) => {
      sessions.delete(rtc);
      emit('failed', why(e));
    });
    if (originator !== 'remote') return;
    if (argv.mode === 'answer') {
      setTimeout(() => {
        if (rtc.isEnded()) return;
        // No getUserMedia in Node: answer without local tracks (see StubPeerConnection).
        rtc.answer({ mediaConstraints: { audio: false, video: false } });
      }, ANSWER_AFTER_MS);
    }
    // ring: JsSIP has sent 180 Ringing; leave the call ringing until stop.
  });

  let finished = false;
  function finish(code) {
    if (finished) return;
    finished = true;
    clearTimeout(unregisterGuard);
    const sessions = ua._sessions ? Object.keys(ua._sessions).length : 0;
    ua.stop(); // BYE/CANCEL/480 for open sessions, then (2 s later at most) closes the socket
    // Without sessions, close the socket now rather than after JsSIP's 2 s grace period.
    if (sessions === 0) socket.disconnect();
    // Leave once the WebSocket closing handshake is done (or after 3 s).
    const ws = WicWebSocket.current;
    if (!ws || ws.readyState === WS.CLOSED) {
      exit(code);
      return;
    }
    ws.once('close', () => exit(code));
    setTimeout(() => exit(code), 3000).unref();
  }

  let unregisterGuard = null;
  function stop(code = 0) {
    if (stopping) return;
    stopping = true;
    clearTimeout(deadline);
    if (ua.isRegistered()) {
      ua.unregister(); // Contact ...;expires=0, Expires: 0
      unregisterGuard = setTimeout(() => {
        emit('error', { message: 'no answer to the un-REGISTER' });
        finish(1);
      }, 5000);
    } else {
      finish(code);
    }
  }

  const deadline = setTimeout(() => {
    emit('timeout', { seconds: TIMEOUT_MS / 1000 });
    stop(0);
  }, TIMEOUT_MS);

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const command = line.trim();
    if (command === 'stop') stop(0);
    if (command === 'hangup') {
      emit('hangup', { sessions: sessions.size });
      for (const rtc of sessions) {
        if (!rtc.isEnded()) rtc.terminate(); // BYE when confirmed, 480 while ringing
      }
    }
  });
  rl.on('close', () => stop(0));

  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  ua.start();
}

login().then(runUa, (err) => fail(err.message));
