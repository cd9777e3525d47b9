import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { ValidationError } from "../kernel/errors.ts";

/** Resolves a host name to its addresses (injected, so tests can play DNS). */
export type ResolveHost = (hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export const systemResolveHost: ResolveHost = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

export const MAX_URL_LENGTH = 2048;

/**
 * Addresses a webhook may not be sent to: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), unique-local, carrier-grade NAT,
 * multicast, reserved and documentation ranges.
 */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12],
  ["192.0.0.0", 24], ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24],
  ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) NOT_PUBLIC.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of [
  ["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["fec0::", 10], ["ff00::", 8], ["100::", 64], ["2001:db8::", 32],
  // NAT64 and 6to4 embed an IPv4 address that may well be private.
  ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["2002::", 16],
] as const) NOT_PUBLIC.addSubnet(net, prefix, "ipv6");

/** True when `address` (an IP literal) is anything but a public unicast address. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return NOT_PUBLIC.check(address, "ipv4");
  if (family !== 6) return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address) ?? /^::(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped) return NOT_PUBLIC.check(mapped[1]!, "ipv4");
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hexMapped) {
    const hi = parseInt(hexMapped[1]!, 16);
    const lo = parseInt(hexMapped[2]!, 16);
    return NOT_PUBLIC.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, "ipv4");
  }
  return NOT_PUBLIC.check(address, "ipv6");
}

/** The URL's host as a resolver or isIP wants it: IPv6 literals without brackets. */
export function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

export interface UrlPolicy {
  /** PATCHBAY_WEBHOOK_ALLOW_PRIVATE: private addresses and plain http are allowed (development, tests). */
  allowPrivate: boolean;
  resolveHost: ResolveHost;
}

function urlError(message: string, code = "invalid_url"): ValidationError {
  return new ValidationError(message, { param: "url", hint: "Use an absolute https URL of a host on the public internet." }, code);
}

/**
 * The rules for an endpoint URL, checked when it is set: absolute https (http
 * too when private addresses are allowed), no user:password, at most 2048
 * characters, and a host whose every address is public. Delivery checks the
 * address again, at connect time (DNS may have changed since).
 */
export async function assertDeliverableUrl(raw: string, policy: UrlPolicy): Promise<string> {
  if (raw.length > MAX_URL_LENGTH) throw urlError(`"url" is longer than ${MAX_URL_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw urlError(`"url" must be an absolute URL.`);
  }
  const schemes = policy.allowPrivate ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol)) {
    throw urlError(policy.allowPrivate ? `"url" must be an http or https URL.` : `"url" must be an https URL.`);
  }
  if (url.username !== "" || url.password !== "") throw urlError(`"url" must not carry a user name or password.`);
  if (url.hash !== "") throw urlError(`"url" must not have a fragment.`);
  if (policy.allowPrivate) return url.toString();

  const host = bareHost(url);
  let addresses: string[];
  if (isIP(host) !== 0) {
    addresses = [host];
  } else {
    try {
      addresses = (await policy.resolveHost(host)).map((a) => a.address);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw urlError(`The host of "url" does not resolve.`, "url_unresolvable");
  }
  if (addresses.some(isNonPublicAddress)) {
    throw urlError(`"url" points at a private, loopback or link-local address; webhooks go to public hosts only.`, "url_not_public");
  }
  return url.toString();
}
