// The dev platform's OpenID provider: `oidc-provider` (a certified implementation), one client, a
// few users. Development only: its keys and storage are in memory (new keys at every start).
//
// Environment (set by docstore_devplatform.oidc):
//   OIDC_PORT            the loopback port to listen on (the issuer is http://127.0.0.1:PORT)
//   OIDC_CLIENT_ID       the one client (DocStore's accounts service)
//   OIDC_CLIENT_SECRET   its secret (client_secret_basic)
//   OIDC_REDIRECT_URIS   space-separated redirect URIs (each region's gateway callback)
//   OIDC_MODULES         the folder holding node_modules/oidc-provider (scripts/bootstrap installs it)
//
// Users: the login form (oidc-provider's development interactions) accepts any password.
//   - `alice` (alice@example.com) and `bob` (bob@example.com): e-mail verified;
//   - any other login that is an e-mail address signs in as a user with that address, verified
//     unless its local part starts with `unverified` (tests make a fresh user per test this way).
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const env = process.env;
const port = Number(env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const entry = pathToFileURL(join(env.OIDC_MODULES, 'node_modules', 'oidc-provider', 'lib', 'index.js'));
const { default: Provider } = await import(entry.href);

const DEV_USERS = {
  alice: { email: 'alice@example.com', email_verified: true, name: 'Alice Example', preferred_username: 'alice' },
  bob: { email: 'bob@example.com', email_verified: true, name: 'Bob Example', preferred_username: 'bob' },
};

function userFor(login) {
  const id = String(login || '').trim().toLowerCase();
  if (DEV_USERS[id]) return { sub: id, ...DEV_USERS[id] };
  if (/^[^@\s]+@[^@\s]+$/.test(id)) {
    const local = id.split('@')[0];
    return { sub: `user:${id}`, email: id, email_verified: !local.startsWith('unverified'), preferred_username: local };
  }
  return undefined;
}

const clientId = env.OIDC_CLIENT_ID;
const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: env.OIDC_CLIENT_SECRET,
      client_name: 'DocStore',
      redirect_uris: (env.OIDC_REDIRECT_URIS || '').split(/\s+/).filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
  // The claims in the ID token too (many providers do so); the accounts service also reads userinfo.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [env.OIDC_COOKIE_KEY || 'docstore-dev-oidc-cookie-key'] },
  async findAccount(ctx, id) {
    const user = userFor(id);
    if (!user) return undefined;
    return { accountId: id, async claims() { return user; } };
  },
  // DocStore is this provider's own first-party client: no consent page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    if (ctx.oidc.client.clientId !== clientId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
