// HTTP/2 control-frame floods from the agent: a PING or SETTINGS frame costs the sender 9–17
// bytes and obliges the receiver to queue an ACK. A client that floods them and never reads the
// ACKs makes the server's write queue grow without bound (Node's http2 hands every ACK to the
// socket, past nghttp2's own queue limit). Measured against sluice: 200,000 PINGs were all
// answered into a socket nobody read. Each session gets a token bucket for the control frames
// it sends; past it the session ends with GOAWAY ENHANCE_YOUR_CALM, as nghttp2 does for
// rapid reset.
import http2 from 'node:http2';

/** Control frames a session may send in a burst, and sustained per second after it. */
export const CONTROL_FRAME_BURST = 500;
export const CONTROL_FRAMES_PER_SECOND = 100;

export function guardControlFloods(session: http2.ServerHttp2Session, now: () => number = () => performance.now()): void {
  let tokens = CONTROL_FRAME_BURST;
  let at = now();
  const take = (): void => {
    const t = now();
    tokens = Math.min(CONTROL_FRAME_BURST, tokens + ((t - at) / 1000) * CONTROL_FRAMES_PER_SECOND);
    at = t;
    tokens -= 1;
    if (tokens >= 0 || session.destroyed) return;
    session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    session.destroy();
  };
  session.on('ping', take);
  session.on('remoteSettings', take);
}
