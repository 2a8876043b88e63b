/**
 * LOGIN (draft-murchison-sasl-login): the server asks "Username:" then "Password:"; a non-empty initial
 * response is taken as the user name, as libsasl does.
 */
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from "./mechanism.ts";
import { badProtocol, decodeUtf8, EXCHANGE_OVER, verifyPasswordLogin } from "./identity.ts";

const utf8 = new TextEncoder();
const USERNAME_CHALLENGE = utf8.encode("Username:");
const PASSWORD_CHALLENGE = utf8.encode("Password:");

/** libsasl's LOGIN plugin refuses longer user names and passwords as a protocol error. */
const MAX_LOGIN_FIELD_BYTES = 1024;

class LoginExchange implements SaslExchange {
  private state: "start" | "username" | "password" | "done" = "start";
  private username = "";

  constructor(private readonly ctx: SaslContext) {}

  async step(response: Uint8Array | null): Promise<SaslStep> {
    switch (this.state) {
      case "start":
        if (response === null || response.length === 0) {
          this.state = "username";
          return { type: "challenge", data: USERNAME_CHALLENGE };
        }
        return this.takeUsername(response);
      case "username":
        return this.takeUsername(response ?? new Uint8Array(0));
      case "password":
        return this.takePassword(response ?? new Uint8Array(0));
      case "done":
        return EXCHANGE_OVER;
    }
  }

  private takeUsername(bytes: Uint8Array): SaslStep {
    if (bytes.length > MAX_LOGIN_FIELD_BYTES) return this.fail(`username too long (>${MAX_LOGIN_FIELD_BYTES} bytes)`);
    const name = decodeUtf8(bytes);
    if (name === undefined) return this.fail("username is not UTF-8");
    this.username = name;
    this.state = "password";
    return { type: "challenge", data: PASSWORD_CHALLENGE };
  }

  private async takePassword(bytes: Uint8Array): Promise<SaslStep> {
    if (bytes.length > MAX_LOGIN_FIELD_BYTES) return this.fail(`password too long (>${MAX_LOGIN_FIELD_BYTES} bytes)`);
    const password = decodeUtf8(bytes);
    if (password === undefined) return this.fail("password is not UTF-8");
    this.state = "done";
    return verifyPasswordLogin(this.ctx, this.username, "", password);
  }

  private fail(detail: string): SaslStep {
    this.state = "done";
    return badProtocol(`LOGIN: ${detail}`);
  }
}

export const LOGIN: SaslMechanism = {
  name: "LOGIN",
  plaintext: true,
  start: (ctx) => new LoginExchange(ctx),
};
