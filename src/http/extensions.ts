/**
 * Sec-WebSocket-Extensions (RFC 6455 §9.1) and permessage-deflate negotiation (RFC 7692 §7).
 */

export interface ExtensionParam {
  /** As sent. */
  name: string;
  /** null when the parameter has no "=value"; quoted strings are unquoted. */
  value: string | null;
}

export interface ExtensionOffer {
  name: string;
  params: ExtensionParam[];
}

export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** null = not given, i.e. 15 (RFC 7692 §7.1.2). */
  serverMaxWindowBits: number | null;
  clientMaxWindowBits: number | null;
}

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The problem validateDeflateResponse gives when the client made no permessage-deflate offer. */
export const DEFLATE_NOT_OFFERED = `the client did not offer ${PERMESSAGE_DEFLATE}`;

/**
 * Pre-standard per-frame compression (draft-tyoshino-hybi-websocket-perframe-deflate), still
 * sent by old WebKit and some servers; RFC 7692 replaced it and it is not interoperable.
 */
const LEGACY_DEFLATE_NAMES = new Set(['x-webkit-deflate-frame', 'deflate-frame']);

export function isPermessageDeflate(name: string): boolean {
  return name.toLowerCase() === PERMESSAGE_DEFLATE;
}

export function isLegacyDeflate(name: string): boolean {
  return LEGACY_DEFLATE_NAMES.has(name.toLowerCase());
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Reads one list element at a time; every method leaves `pos` after what it consumed. */
class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text.charAt(this.pos);
  }

  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos += 1;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos += 1;
    return this.text.slice(start, this.pos);
  }

  /** RFC 9110 §5.6.4 quoted-string, starting at the opening quote; null if unterminated. */
  quoted(): string | null {
    this.pos += 1;
    let value = '';
    while (!this.done) {
      const char = this.peek();
      this.pos += 1;
      if (char === '"') return value;
      if (char === '\\') {
        if (this.done) return null;
        value += this.peek();
        this.pos += 1;
      } else {
        value += char;
      }
    }
    return null;
  }

  /** Error recovery: move to the next comma that is not inside a quoted string. */
  skipToNextElement(): void {
    let quoted = false;
    while (!this.done) {
      const char = this.peek();
      if (char === ',' && !quoted) return;
      if (char === '"') quoted = !quoted;
      if (char === '\\' && quoted) this.pos += 1;
      this.pos += 1;
    }
  }
}

/** Parses one `extension *( ";" extension-param )`; returns the problem instead when invalid. */
function parseElement(cursor: Cursor): ExtensionOffer | string {
  const name = cursor.token();
  if (name === '') return `expected an extension name at ${JSON.stringify(cursor.text.slice(cursor.pos, cursor.pos + 20))}`;
  const params: ExtensionParam[] = [];
  cursor.skipOws();
  while (cursor.peek() === ';') {
    cursor.pos += 1;
    cursor.skipOws();
    const paramName = cursor.token();
    if (paramName === '') return `${name}: expected a parameter name after ";"`;
    cursor.skipOws();
    let value: string | null = null;
    if (cursor.peek() === '=') {
      cursor.pos += 1;
      cursor.skipOws();
      if (cursor.peek() === '"') {
        value = cursor.quoted();
        if (value === null) return `${name}: unterminated quoted value of ${paramName}`;
        // RFC 6455 §9.1: a quoted value must still be a token once unquoted.
        if (!TOKEN.test(value)) return `${name}: the quoted value of ${paramName} is not a token once unquoted`;
      } else {
        value = cursor.token();
        if (value === '') return `${name}: ${paramName}= has no value`;
      }
      cursor.skipOws();
    }
    params.push({ name: paramName, value });
  }
  if (!cursor.done && cursor.peek() !== ',') {
    return `${name}: unexpected ${JSON.stringify(cursor.peek())} (RFC 6455 §9.1 syntax is name; param; param=value)`;
  }
  return { name, params };
}

/**
 * RFC 6455 §9.1: extension-list = 1#extension. Repeated headers are one list (the RFC's own
 * example: "foo" then "bar; baz=2" equals "foo, bar; baz=2"). An invalid element is reported
 * in `errors` and left out; the others are kept.
 */
export function parseExtensions(values: string[]): { extensions: ExtensionOffer[]; errors: string[] } {
  const extensions: ExtensionOffer[] = [];
  const errors: string[] = [];
  for (const value of values) {
    const cursor = new Cursor(value);
    while (!cursor.done) {
      cursor.skipOws();
      if (cursor.peek() === ',' || cursor.done) {
        // RFC 9110 §5.6.1: empty list elements are ignored.
        cursor.pos += 1;
        continue;
      }
      const element = parseElement(cursor);
      if (typeof element === 'string') {
        errors.push(element);
        cursor.skipToNextElement();
      } else {
        extensions.push(element);
      }
      cursor.pos += 1; // the comma, or past the end
    }
  }
  return { extensions, errors };
}

type DeflateParamName = 'server_no_context_takeover' | 'client_no_context_takeover' | 'server_max_window_bits' | 'client_max_window_bits';
const DEFLATE_PARAM_NAMES: readonly DeflateParamName[] = [
  'server_no_context_takeover',
  'client_no_context_takeover',
  'server_max_window_bits',
  'client_max_window_bits',
];

interface ReadDeflate {
  params: DeflateParams;
  /** Which parameters are present (client_max_window_bits may be present without a value). */
  present: Set<DeflateParamName>;
  problems: string[];
}

/** RFC 7692 §7.1.2.1, §7.1.2.2: "a decimal integer value without leading zeroes between 8 to 15". */
function windowBits(value: string | null, name: string, problems: string[]): number | null {
  if (value === null) {
    problems.push(`${name} needs a value (8..15)`);
    return null;
  }
  if (!/^[1-9][0-9]*$/.test(value)) {
    problems.push(`${name}=${value} is not a plain decimal number`);
    return null;
  }
  const bits = Number(value);
  if (bits < 8 || bits > 15) {
    problems.push(`${name}=${value} is outside 8..15`);
    return null;
  }
  return bits;
}

/**
 * RFC 7692 §7 (both directions): every parameter must be one of the four defined, appear at
 * most once and have a valid value. `role` matters only for client_max_window_bits, whose value
 * is optional in an offer (§7.1.2.2) and required in a response.
 */
function readDeflate(extension: ExtensionOffer, role: 'offer' | 'response'): ReadDeflate {
  const params: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: null,
    clientMaxWindowBits: null,
  };
  const present = new Set<DeflateParamName>();
  const problems: string[] = [];
  for (const param of extension.params) {
    const name = DEFLATE_PARAM_NAMES.find((known) => known === param.name.toLowerCase());
    if (name === undefined) {
      problems.push(`unknown parameter ${param.name}`);
      continue;
    }
    if (present.has(name)) {
      problems.push(`parameter ${name} is repeated`);
      continue;
    }
    present.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        // §7.1.1.1, §7.1.1.2: these parameters have no value.
        if (param.value !== null) problems.push(`${name} must not have a value (got ${param.value})`);
        if (name === 'server_no_context_takeover') params.serverNoContextTakeover = true;
        else params.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        params.serverMaxWindowBits = windowBits(param.value, name, problems);
        break;
      case 'client_max_window_bits':
        if (param.value === null && role === 'offer') break;
        params.clientMaxWindowBits = windowBits(param.value, name, problems);
        break;
    }
  }
  return { params, present, problems };
}

/** RFC 7692 §7: problems that oblige a server to decline this offer; empty when valid. */
export function validateDeflateOffer(offer: ExtensionOffer): string[] {
  if (!isPermessageDeflate(offer.name)) return [`${offer.name} is not ${PERMESSAGE_DEFLATE}`];
  return readDeflate(offer, 'offer').problems;
}

/** RFC 7692 §7.1: does the response accept this particular offer? */
function mismatches(response: ReadDeflate, offer: ReadDeflate): string[] {
  const problems: string[] = [];
  // §7.1.1.1: a server accepting an offer with server_no_context_takeover MUST include it.
  if (offer.params.serverNoContextTakeover && !response.params.serverNoContextTakeover) {
    problems.push('server_no_context_takeover was offered but is missing from the response');
  }
  // §7.1.2.1: an offered server_max_window_bits is accepted by answering the same or a smaller value.
  const offeredServerBits = offer.params.serverMaxWindowBits;
  if (offer.present.has('server_max_window_bits') && offeredServerBits !== null) {
    const answered = response.params.serverMaxWindowBits;
    if (!response.present.has('server_max_window_bits')) {
      problems.push(`server_max_window_bits=${offeredServerBits} was offered but is missing from the response`);
    } else if (answered !== null && answered > offeredServerBits) {
      problems.push(`server_max_window_bits=${answered} is larger than the ${offeredServerBits} offered`);
    }
  }
  // §7.1.2.2: without client_max_window_bits in the offer the response MUST NOT include it, and
  // a value in the offer is an upper bound the client set for itself.
  if (response.present.has('client_max_window_bits')) {
    const answered = response.params.clientMaxWindowBits;
    const offered = offer.params.clientMaxWindowBits;
    if (!offer.present.has('client_max_window_bits')) {
      problems.push('client_max_window_bits is in the response but the client did not offer it');
    } else if (answered !== null && offered !== null && answered > offered) {
      problems.push(`client_max_window_bits=${answered} is larger than the ${offered} the client allowed`);
    }
  }
  return problems;
}

/**
 * RFC 7692 §7.1: checks a permessage-deflate response element against the client's offers.
 * The response is valid when it fits at least one offer (the client may send several, §5.1);
 * otherwise the problems are those of the closest offer.
 *
 * `params` is what the response states, filled in even when there are problems (invalid values
 * read as null), because a dissector still has to follow what the peers go on to do; it is null
 * only when the element is not permessage-deflate at all.
 */
export function validateDeflateResponse(
  response: ExtensionOffer,
  offers: ExtensionOffer[],
): { params: DeflateParams | null; problems: string[] } {
  if (!isPermessageDeflate(response.name)) {
    return { params: null, problems: [`${response.name} is not ${PERMESSAGE_DEFLATE}`] };
  }
  const answer = readDeflate(response, 'response');
  const deflateOffers = offers.filter((offer) => isPermessageDeflate(offer.name));
  if (deflateOffers.length === 0) {
    return { params: answer.params, problems: [...answer.problems, DEFLATE_NOT_OFFERED] };
  }
  let best: string[] | null = null;
  for (const [index, offer] of deflateOffers.entries()) {
    const read = readDeflate(offer, 'offer');
    const label = deflateOffers.length > 1 ? `offer #${index + 1}: ` : '';
    const problems = [
      // §7: a server MUST decline an invalid offer, so answering one is itself a problem.
      ...read.problems.map((problem) => `${label}the offer itself is invalid (${problem})`),
      ...mismatches(answer, read).map((problem) => `${label}${problem}`),
    ];
    if (best === null || problems.length < best.length) best = problems;
  }
  return { params: answer.params, problems: [...answer.problems, ...(best ?? [])] };
}
