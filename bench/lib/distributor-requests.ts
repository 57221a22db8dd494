// The autocannon request lists both distributor benches send, so that their rows
// measure the same thing.

/** GET /download/TOKEN for each pre-granted token in turn. */
export function downloadRequests(tokens: string[]): object[] {
  let t = 0;
  return [{ method: 'GET', setupRequest: (req: object) => ({ ...req, path: `/download/${tokens[t++]}` }) }];
}

/** POST /redeem with the next fresh code, then GET the download it links to. */
export function redeemThenDownload(codes: string[], cookie: string, csrf: string): object[] {
  let c = 0;
  return [
    {
      method: 'POST',
      path: '/redeem',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      setupRequest: (req: object) => ({ ...req, body: new URLSearchParams({ code: codes[c++]!, email: `r${c}@example.test`, _csrf: csrf }).toString() }),
      onResponse: (_status: number, body: string, context: { token?: string }) => {
        context.token = /href="\/download\/([A-Za-z0-9_-]+)"/.exec(body)?.[1];
      },
    },
    { method: 'GET', setupRequest: (req: object, context: { token?: string }) => ({ ...req, path: `/download/${context.token}` }) },
  ];
}
