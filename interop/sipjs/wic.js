#!/usr/bin/env node
/*
 * SIP.js 0.21, in Node, as a WIC (WebRTC IMS Client) against the wIMPU reference stack.
 *
 * TR 23.701 5.2.2.5.2 from the client side, with a second WIC nobody in this project wrote
 * (beside interop/jssip), driven only through SIP.js's own API (UserAgent, Registerer,
 * Inviter, Invitation):
 *   step 1   HTTPS POST <origin>/login at the WWSF -> token, identity, eP-CSCF WSS URL
 *   step 2   WSS to the eP-CSCF, subprotocol "sip", Origin: <WWSF origin>, test CA trusted
 *   step 3   Registerer.register() with "Authorization: Bearer <token>" as an extra header
 *
 * Output: one JSON object per line on stdout, one per event, for tests/interop/test_sipjs.py:
 *   {"event":"login","identity":...,"ep_cscf":...}
 *   {"event":"connected"} / {"event":"disconnected","error":...}
 *   {"event":"registered","status":200,"contacts":[...],"p_associated_uri":...,"expires":...}
 *   {"event":"registrationFailed","status":401,"reason":...}   (or status null: SIP.js dropped
 *                                                              the 2xx, "cause" says why)
 *   {"event":"unregistered","status":200}  /  {"event":"unregistrationFailed","status":401,...}
 *   {"event":"invitation","from":...,"to":...,"ruri":...,"call_id":...,"p_called_party_id":...,
 *    "p_asserted_identity":...,"record_route":[...],"has_sdp":true}          (incoming INVITE)
 *   {"event":"inviting","target":...,"call_id":...}                          (outgoing INVITE sent)
 *   {"event":"progress","status":180}                                        (outgoing call)
 *   {"event":"answered","direction":"incoming"|"outgoing","status":200}      (200 sent / got)
 *   {"event":"rejected","status":...}                                        (outgoing call)
 *   {"event":"ack","cseq":"1 ACK"}                                           (ACK of our 200)
 *   {"event":"cancelled","reason":<Reason of the CANCEL>|null}
 *   {"event":"bye","reason":<Reason of the BYE>|null}                        (BYE received)
 *   {"event":"byeResponse","status":200}                                     (answer to our BYE)
 *   {"event":"session","direction":...,"state":"Establishing"|"Established"|"Terminated",...}
 *   {"event":"hangup","sessions":N}
 *   {"event":"wire","dir":"out"|"in","data":"<SIP message>"}   (only with --trace; the token
 *                                                              is replaced by "<token>")
 *   {"event":"handshakeRefused","status":403}                  (WebSocket handshake refused)
 *   {"event":"error","message":...}                            (then exit status 1)
 *   {"event":"exit","code":0}
 * Diagnostics go to stderr (SIP.js's own log with --log debug|log|warn|error).
 *
 * Modes:
 *   register  register, then wait for commands on stdin (or --timeout seconds, or stdin closing).
 *   answer    as register, and accept each incoming INVITE after --answer-after ms.
 *   ring      as register, and leave each incoming INVITE ringing (180) until stop.
 * Lines on stdin:
 *   call <uri>   place a call (Inviter) to <uri>
 *   answer       accept every ringing incoming INVITE (Invitation.accept())
 *   hangup       end every open session: BYE when established, CANCEL while calling,
 *                480 while ringing
 *   unregister   Registerer.unregister() (SIP.js sends no extra header on it: no token)
 *   stop         un-REGISTER if still registered, UserAgent.stop(), exit
 *
 * NO MEDIA IN NODE: Node has no RTCPeerConnection, so SIP.js's default (web) session
 * description handler cannot run. A stand-in (StubSessionDescriptionHandler) is given to the
 * UserAgent as sessionDescriptionHandlerFactory: it offers one inactive audio stream, and
 * answers an offer with its m-lines mirrored, a=inactive and c=IN IP4 0.0.0.0. No ICE, DTLS
 * or RTP happens; only the SIP signalling is real.
 *
 * Arguments (each also from the environment variable in brackets):
 *   --origin  [WIC_ORIGIN]    WWSF origin, e.g. https://127.0.0.1:8443
 *   --username [WIC_USERNAME] --password [WIC_PASSWORD]
 *   --ca      [WIC_CA]        PEM file of the test CA (reference.tls.TestPki.ca_path)
 *   --mode    [WIC_MODE]      register (default) | answer | ring
 *   --timeout [WIC_TIMEOUT]   seconds before giving up and stopping (default 30)
 *   --answer-after [WIC_ANSWER_AFTER]  ms before answering in answer mode (default 0)
 *   --trace   [WIC_TRACE=1]   also print every SIP message sent and received
 *   --log     [WIC_LOG]       SIP.js log level on stderr: debug | log | warn (default) | error
 */

import fs from 'node:fs';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import WS from 'ws';
import { login as wwsfLogin } from '../shared/wwsf-login.cjs';
import {
  Invitation,
  Inviter,
  Registerer,
  RegistererState,
  SessionState,
  UserAgent,
} from 'sip.js';

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
    log: { type: 'string', default: process.env.WIC_LOG || 'warn' },
  },
  strict: true,
});

let token = null; // the WWSF's token, once logged in: never printed (see redact)

function redact(text) {
  return token ? text.split(token).join('<token>') : text;
}

function emit(event, fields = {}) {
  process.stdout.write(redact(JSON.stringify({ event, ...fields })) + '\n');
}

let exiting = false;
function exit(code) {
  if (exiting) return;
  exiting = true;
  emit('exit', { code });
  process.stdout.write('', () => process.exit(code)); // let stdout drain first
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
const LOG_LEVELS = ['debug', 'log', 'warn', 'error'];
if (!LOG_LEVELS.includes(argv.log)) {
  process.stderr.write(`wic.js: unknown --log ${argv.log} (debug, log, warn, error)\n`);
  process.exit(2);
}
const ORIGIN = argv.origin.replace(/\/+$/, '');
const CA = fs.readFileSync(argv.ca);
const TIMEOUT_MS = Number(argv.timeout) * 1000;
const ANSWER_AFTER_MS = Number(argv['answer-after']);

// ----- the browser pieces SIP.js expects ---------------------------------------------------

/*
 * A W3C WebSocket as SIP.js's web Transport creates it (`new WebSocket(server, "sip")`, then
 * addEventListener), with what a browser on the WWSF page would add: the page's Origin. The
 * test CA is trusted for the TLS handshake (a browser would have it in its trust store).
 */
class WicWebSocket extends WS {
  constructor(url, protocols) {
    super(url, protocols, { origin: ORIGIN, ca: CA });
    WicWebSocket.current = this;
    this.on('unexpected-response', (req, res) => {
      emit('handshakeRefused', { status: res.statusCode });
      this.terminate(); // what ws does without this listener: error and close, SIP.js sees them
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
globalThis.WebSocket = WicWebSocket;

/*
 * NO MEDIA IN NODE: a SessionDescriptionHandler (SIP.js's interface, api/session-description-
 * handler.d.ts) that needs no RTCPeerConnection. getDescription() gives an offer (nothing
 * received yet) or the answer to the offer setDescription() was given.
 */
class StubSessionDescriptionHandler {
  constructor() {
    this.remote = null;
    this.closed = false;
  }

  close() {
    this.closed = true;
  }

  async getDescription() {
    return { body: fixedSdp(this.remote || ''), contentType: 'application/sdp' };
  }

  hasDescription(contentType) {
    return contentType === 'application/sdp';
  }

  async rollbackDescription() {}

  async setDescription(sdp) {
    this.remote = sdp;
  }

  sendDtmf() {
    return false;
  }
}

/*
 * A fixed SDP: one m-line per offered m-line (RFC 3264 6), same media and first payload
 * type, a=inactive, c=IN IP4 0.0.0.0. Without an offer: one inactive audio line (PCMU).
 */
function fixedSdp(offer) {
  const lines = [
    'v=0',
    `o=- ${Date.now()} 1 IN IP4 127.0.0.1`,
    's=wimpu-sipjs-no-media',
    't=0 0',
  ];
  const mlines = offer.split(/\r?\n/).filter((l) => l.startsWith('m='));
  if (mlines.length === 0) mlines.push('m=audio 9 RTP/AVP 0');
  for (const m of mlines) {
    const [media, , proto, ...fmts] = m.slice(2).trim().split(/\s+/);
    lines.push(`m=${media} 9 ${proto} ${fmts[0] || '0'}`);
    lines.push('c=IN IP4 0.0.0.0');
    lines.push('a=inactive');
  }
  return lines.join('\r\n') + '\r\n';
}

// ----- step 1: web login at the WWSF ---------------------------------------------------

function login() {
  return wwsfLogin({ origin: ORIGIN, ca: CA, username: argv.username, password: argv.password });
}

// ----- steps 2-3 and the sessions: SIP.js --------------------------------------------------

function header(message, name) {
  return message && message.hasHeader(name) ? message.getHeader(name) : null;
}

function run(session) {
  token = session.token;
  const epUrl = typeof session.ep_cscf === 'string' ? session.ep_cscf : session.ep_cscf.uri;
  emit('login', { identity: session.identity, ep_cscf: epUrl });

  const uri = UserAgent.makeURI(session.identity);
  if (!uri) {
    fail(`the WWSF's identity is not a SIP URI: ${session.identity}`);
    return;
  }

  const sessions = new Set();
  let stopping = false;
  let registeredOnce = false;

  const ua = new UserAgent({
    uri,
    transportOptions: { server: epUrl, traceSip: false },
    sessionDescriptionHandlerFactory: () => new StubSessionDescriptionHandler(),
    userAgentString: 'SIP.js (wimpu interop, Node)',
    logBuiltinEnabled: false,
    logConfiguration: false,
    logLevel: argv.log,
    // SIP.js hands every log line to the connector, whatever logLevel says: filter here.
    logConnector: (level, category, label, content) => {
      if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(argv.log)) return;
      process.stderr.write(`${level} ${category}${label ? ` ${label}` : ''}: ${redact(String(content))}\n`);
    },
    delegate: {
      onConnect: () => emit('connected'),
      onDisconnect: (error) => {
        emit('disconnected', { error: error ? error.message : null });
        if (!stopping && !registeredOnce) {
          // Never registered and the transport is gone (e.g. Origin refused): give up.
          stopping = true;
          exit(1);
        }
      },
      onInvite: (invitation) => incoming(invitation),
    },
  });

  // The token goes with the REGISTER as an extra header: SIP.js has no option of its own for
  // it. Registerer.unregister() builds its REGISTER from its own options only, so the
  // un-REGISTER carries no token (solution profile, "De-registration without a token").
  const registerer = new Registerer(ua, {
    extraHeaders: [`Authorization: Bearer ${session.token}`],
    logConfiguration: false,
  });

  function register() {
    registerer.register({
      requestDelegate: {
        onAccept: (response) => {
          const m = response.message;
          if (registerer.state !== RegistererState.Registered) {
            // SIP.js dropped the 2xx: no Contact of its own in it, or no expires for it.
            emit('registrationFailed', { status: m.statusCode, reason: m.reasonPhrase,
              cause: 'SIP.js found no Contact of its own with an expires in the 2xx' });
            return;
          }
          registeredOnce = true;
          emit('registered', {
            status: m.statusCode,
            contacts: m.getHeaders('contact'),
            p_associated_uri: header(m, 'p-associated-uri'),
            expires: header(m, 'expires'),
          });
        },
        onReject: (response) => {
          const m = response.message;
          emit('registrationFailed', { status: m.statusCode, reason: m.reasonPhrase,
            www_authenticate: header(m, 'www-authenticate') });
          if (!registeredOnce) stop(1);
        },
      },
    }).catch((error) => fail(`Registerer.register(): ${error.message}`));
  }

  function unregister() {
    return new Promise((resolve) => {
      registerer.unregister({
        requestDelegate: {
          onAccept: (response) => {
            emit('unregistered', { status: response.message.statusCode });
            resolve(true);
          },
          onReject: (response) => {
            const m = response.message;
            emit('unregistrationFailed', { status: m.statusCode, reason: m.reasonPhrase,
              www_authenticate: header(m, 'www-authenticate') });
            resolve(false);
          },
        },
      }).catch((error) => {
        emit('unregistrationFailed', { status: null, reason: error.message });
        resolve(false);
      });
    });
  }

  // ----- sessions ------------------------------------------------------------------------

  function follow(sip, direction) {
    sessions.add(sip);
    sip.stateChange.addListener((state) => {
      emit('session', { direction, state, call_id: sip.request.callId });
      if (state === SessionState.Terminated) sessions.delete(sip);
    });
    sip.delegate = {
      onAck: (ack) => emit('ack', { cseq: header(ack.request, 'cseq') }),
      onBye: (bye) => {
        emit('bye', { reason: header(bye.request, 'reason') });
        bye.accept();
      },
      onCancel: (cancel) => emit('cancelled', { reason: header(cancel.request, 'reason') }),
    };
  }

  function incoming(invitation) {
    const r = invitation.request;
    follow(invitation, 'incoming');
    emit('invitation', {
      from: r.from.uri.toString(),
      to: r.to.uri.toString(),
      ruri: r.ruri.toString(),
      call_id: r.callId,
      p_called_party_id: header(r, 'p-called-party-id'),
      p_asserted_identity: header(r, 'p-asserted-identity'),
      record_route: r.getHeaders('record-route'),
      has_sdp: Boolean(r.body),
    });
    // SIP.js has sent 180 Ringing already (sendInitialProvisionalResponse).
    if (argv.mode === 'answer') setTimeout(() => accept(invitation), ANSWER_AFTER_MS);
  }

  function accept(invitation) {
    if (invitation.state !== SessionState.Initial) return; // cancelled meanwhile
    invitation.accept().then(
      () => emit('answered', { direction: 'incoming', status: 200 }),
      (error) => emit('error', { message: `Invitation.accept(): ${error.message}` }),
    );
  }

  function call(target) {
    const targetUri = UserAgent.makeURI(target);
    if (!targetUri) {
      emit('error', { message: `not a SIP URI: ${target}` });
      return;
    }
    const inviter = new Inviter(ua, targetUri);
    follow(inviter, 'outgoing');
    inviter.invite({
      requestDelegate: {
        onProgress: (response) => emit('progress', { status: response.message.statusCode }),
        onAccept: (response) => emit('answered', { direction: 'outgoing', status: response.message.statusCode,
          p_asserted_identity: header(response.message, 'p-asserted-identity') }),
        onReject: (response) => emit('rejected', { status: response.message.statusCode,
          reason: response.message.reasonPhrase }),
      },
    }).then(
      () => emit('inviting', { target, call_id: inviter.request.callId }),
      (error) => emit('error', { message: `Inviter.invite(): ${error.message}` }),
    );
  }

  function hangup() {
    emit('hangup', { sessions: sessions.size });
    for (const sip of sessions) {
      if (sip.state === SessionState.Established) {
        sip.bye({
          requestDelegate: {
            onAccept: (response) => emit('byeResponse', { status: response.message.statusCode }),
            onReject: (response) => emit('byeResponse', { status: response.message.statusCode }),
          },
        }).catch((error) => emit('error', { message: `Session.bye(): ${error.message}` }));
      } else if (sip instanceof Inviter) {
        sip.cancel().catch((error) => emit('error', { message: `Inviter.cancel(): ${error.message}` }));
      } else if (sip.state === SessionState.Initial) {
        sip.reject({ statusCode: 480 }).catch((error) => emit('error', { message: error.message }));
      }
    }
  }

  // ----- leaving -------------------------------------------------------------------------

  async function stop(code = 0) {
    if (stopping) return;
    stopping = true;
    clearTimeout(deadline);
    if (registerer.state === RegistererState.Registered) {
      const guard = setTimeout(() => fail('no final response to the un-REGISTER'), 5000);
      await unregister();
      clearTimeout(guard);
    }
    // Sessions still open end here (BYE, CANCEL, 480); then the WebSocket closes.
    const guard = setTimeout(() => exit(code), 3000);
    guard.unref();
    try {
      await ua.stop();
    } catch (error) {
      process.stderr.write(`UserAgent.stop(): ${error.message}\n`);
    }
    exit(code);
  }

  const deadline = setTimeout(() => {
    emit('timeout', { seconds: TIMEOUT_MS / 1000 });
    stop(0);
  }, TIMEOUT_MS);

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [command, ...args] = line.trim().split(/\s+/);
    if (command === 'stop') stop(0);
    else if (command === 'hangup') hangup();
    else if (command === 'answer') {
      for (const sip of sessions) if (sip instanceof Invitation) accept(sip);
    }
    else if (command === 'unregister') unregister();
    else if (command === 'call' && args.length === 1) call(args[0]);
    else if (command) emit('error', { message: `unknown command: ${line.trim()}` });
  });
  rl.on('close', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  ua.start().then(register, (error) => fail(`UserAgent.start(): ${error.message}`));
}

login().then(run, (err) => fail(err.message));
