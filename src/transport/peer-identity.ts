// sec: a peer's identity as its certificate states it. konsul certificates name their node and
// role in a DNS SAN, <node>.<server|client>.<datacenter>.<domain> (`konsul tls cert create`); with
// mutual TLS a peer must present the node id its certificate names.

import type { PeerCertificate, TLSSocket } from 'node:tls';

export type PeerRole = 'server' | 'client';

export interface CertifiedName { nodeId: string; role: PeerRole }

/** The (node, role) pairs a certificate's DNS SANs name. */
export function certifiedNames(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): CertifiedName[] {
  const san = cert?.subjectaltname;
  if (typeof san !== 'string' || san === '') return [];
  const out: CertifiedName[] = [];
  for (const entry of san.split(/,\s*/)) {
    if (!entry.startsWith('DNS:')) continue;
    const labels = entry.slice(4).split('.');
    // node.role.dc.domain: at least four labels, the role second.
    if (labels.length < 4) continue;
    const role = labels[1];
    if ((role === 'server' || role === 'client') && labels[0] !== '') out.push({ nodeId: labels[0]!, role });
  }
  return out;
}

export type IdentityVerdict = { ok: true; role: PeerRole } | { ok: false; detail: string };

/** Does the socket's peer certificate name `nodeId`? Its role when it does. */
export function verifyPeerIdentity(socket: TLSSocket, nodeId: string): IdentityVerdict {
  const names = certifiedNames(socket.getPeerCertificate());
  const match = names.find((n) => n.nodeId === nodeId);
  if (match) return { ok: true, role: match.role };
  const named = names.length === 0 ? 'no konsul node' : names.map((n) => `${n.nodeId} (${n.role})`).join(', ');
  return { ok: false, detail: `the certificate names ${named}, not node '${nodeId}'` };
}
