/**
 * A plain Node HTTP client for the tests of servers that speak HTTP.
 */
import http from 'node:http';

/** GETs `pathname` from 127.0.0.1:`port` on a fresh connection; settles with the status and the whole body. */
export function get(port: number, pathname = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: pathname, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}
