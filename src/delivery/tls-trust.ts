// Trust store for https receivers: the system CAs (Node's bundle, `tls.rootCertificates`) plus the
// certificates of `--ca-file`. Certificates are always verified; this module can only add trust.
// An unreadable file or one without a valid PEM certificate fails start-up (UCW_ERR_CONFIG_INVALID).

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { envName, flagName } from '../config/option-names.js';
import { BridgeError } from '../errors.js';

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

function optionName(): string {
  return `--${flagName('caFile')} (${envName('caFile')})`;
}

function invalid(path: string, what: string, cause?: unknown): BridgeError {
  return new BridgeError('UCW_ERR_CONFIG_INVALID', `${optionName()}: ${path}: ${what}`, {
    hint: 'Give a readable PEM file with one or more CA certificates (-----BEGIN CERTIFICATE-----).',
    cause,
  });
}

/** Reads and validates a PEM bundle of CA certificates; returns each certificate's PEM text. */
export function loadCaFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return failRead(path, typeof code === 'string' ? code : (err as Error).message, err);
  }
  const certs = text.match(PEM_CERT_RE) ?? [];
  if (certs.length === 0) throw invalid(path, 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file');
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw invalid(
        path,
        `certificate ${i + 1} of ${certs.length} is not a valid X.509 certificate (${(err as Error).message})`,
        err,
      );
    }
  });
  try {
    tls.createSecureContext({ ca: certs });
  } catch (err) {
    throw invalid(path, `the certificates cannot be used as CAs (${(err as Error).message})`, err);
  }
  return certs;
}

function failRead(path: string, reason: string, cause: unknown): never {
  throw invalid(path, `cannot be read (${reason})`, cause);
}

/** The `ca` option for tls.connect: the system CAs plus `extra`, or undefined for the defaults alone. */
export function trustedCas(extra: readonly string[] | undefined): string[] | undefined {
  return extra === undefined || extra.length === 0 ? undefined : [...tls.rootCertificates, ...extra];
}
