import { FREE_ATTEMPTS } from '../limits/backoff';
import { auditLimit, BINDING_PERIOD_SECONDS, clientIp, limiter, withinIpRate } from '../limits/limits';
import { errorPage } from './authorize-pages';

/** Renders the 429 refusal in the look of the form that was throttled. */
export type ThrottledPage = (title: string, message: string, headers: Headers) => Response;

/**
 * Brute-force protection for every sign-in form (`/authorize`, the dashboard's account and
 * operator forms), in two layers: an approximate per-IP rate (Workers Rate Limiting binding) that
 * sheds floods cheaply, and exact exponential back-off per account and per IP (one TenantLimiter
 * object per key, `signin-account:<email>` or `signin-operator` for the operator token, and
 * `signin-ip:<ip>`). The keys are shared by all forms, so alternating between them buys nothing.
 * After the free attempts each failure doubles the wait, up to 15 minutes; a success clears the
 * account.
 */
export class SignInGuard {
  private readonly env: Env;
  private readonly ctx: Pick<ExecutionContext, 'waitUntil'>;
  private readonly request: Request;
  private readonly ip: string | undefined;
  private readonly account: string | null;
  private readonly accountKey: string | null;
  private readonly page: ThrottledPage;

  /**
   * `email` is the normalised address tried, or null when the form had none; `operator: true`
   * guards the operator token instead, with one global account key (there is one operator).
   */
  constructor(
    env: Env,
    ctx: Pick<ExecutionContext, 'waitUntil'>,
    request: Request,
    email: string | null,
    options: { operator?: boolean; page?: ThrottledPage } = {},
  ) {
    this.env = env;
    this.ctx = ctx;
    this.request = request;
    this.ip = clientIp(request);
    this.account = options.operator ? 'operator' : email;
    this.accountKey = options.operator ? 'signin-operator' : email ? `signin-account:${email}` : null;
    this.page = options.page ?? ((title, message, headers) => errorPage(429, title, message, headers));
  }

  private ipLimiter() {
    return this.ip === undefined ? null : limiter(this.env, `signin-ip:${this.ip}`);
  }

  private accountLimiter() {
    return this.accountKey ? limiter(this.env, this.accountKey) : null;
  }

  /** A 429 page when this attempt may not even be checked, else null. */
  async refusal(): Promise<Response | null> {
    if (!(await withinIpRate(this.env.RL_IP_SIGNIN, this.request))) return this.tooMany('ip_signin', BINDING_PERIOD_SECONDS * 1000);
    const [ipWait, accountWait] = await Promise.all([this.ipLimiter()?.backoffWait() ?? 0, this.accountLimiter()?.backoffWait() ?? 0]);
    if (accountWait > 0 && accountWait >= ipWait) return this.tooMany('signin_account', accountWait);
    if (ipWait > 0) return this.tooMany('signin_ip', ipWait);
    return null;
  }

  /** Record a failed attempt against the IP and the account. */
  async failed(): Promise<void> {
    await Promise.all([this.ipLimiter()?.backoffFailure(FREE_ATTEMPTS.ip), this.accountLimiter()?.backoffFailure(FREE_ATTEMPTS.account)]);
  }

  /** A successful sign-in clears the account's failures (not the IP's). */
  async succeeded(): Promise<void> {
    await this.accountLimiter()?.backoffReset();
  }

  private tooMany(which: string, waitMs: number): Response {
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    auditLimit(this.env, this.ctx, { which, retryAfter, message: 'sign-in throttled', tenant: null, user: this.account ?? undefined, ip: this.ip });
    const headers = new Headers({ 'Retry-After': String(retryAfter), 'Cache-Control': 'no-store' });
    return this.page('Too many attempts', `Too many sign-in attempts. Wait ${retryAfter} seconds, then try again.`, headers);
  }
}
