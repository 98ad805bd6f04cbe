// The webhook's serving certificate without cert-manager (`sluice webhook certs`): a small CA of
// its own and a leaf for the Service's DNS names. The API server trusts the CA through the
// MutatingWebhookConfiguration's caBundle; the key of the CA is not kept.
import { X509Certificate as NodeX509Certificate, generateKeyPair } from 'node:crypto';
import type { KeyObject, webcrypto as WebCrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';
import { CLOCK_SKEW_MS, randomSerial, x509Crypto } from '../tls/ca.ts';

export interface WebhookCertificates {
  caPem: string;
  certPem: string;
  keyPem: string;
  dnsNames: string[];
}

const VALIDITY_DAYS = 825; // what browsers and most tools still accept for a leaf

/** The names the API server may dial for a Service (it uses NAME.NAMESPACE.svc). */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

async function ecKeys(): Promise<{ privateKey: KeyObject; keys: CryptoKeyPair }> {
  const pair = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256' };
  return {
    privateKey: pair.privateKey,
    keys: {
      privateKey: pair.privateKey.toCryptoKey(algorithm, true, ['sign']),
      publicKey: pair.publicKey.toCryptoKey(algorithm, true, ['verify']),
    },
  };
}

type CryptoKeyPair = { privateKey: WebCrypto.CryptoKey; publicKey: WebCrypto.CryptoKey };

function pem(cert: x509.X509Certificate): string {
  return new NodeX509Certificate(Buffer.from(cert.rawData)).toString();
}

export async function createWebhookCertificates(service: string, namespace: string, now = new Date()): Promise<WebhookCertificates> {
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + VALIDITY_DAYS * 86_400_000);
  const signingAlgorithm = { name: 'ECDSA', hash: 'SHA-256' };
  const ca = await ecKeys();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial().toString('hex'),
    name: `CN=sluice webhook CA ${namespace}/${service}`,
    notBefore, notAfter, keys: ca.keys, signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(ca.keys.publicKey, false, x509Crypto),
    ],
  }, x509Crypto);
  const leaf = await ecKeys();
  const dnsNames = serviceDnsNames(service, namespace);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial().toString('hex'),
    subject: `CN=${service}.${namespace}.svc`,
    issuer: caCert.subject,
    notBefore, notAfter, signingAlgorithm,
    publicKey: leaf.keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false, x509Crypto),
      await x509.SubjectKeyIdentifierExtension.create(leaf.keys.publicKey, false, x509Crypto),
    ],
  }, x509Crypto);
  return {
    caPem: pem(caCert),
    certPem: pem(cert),
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    dnsNames,
  };
}
