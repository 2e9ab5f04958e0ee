// The login page: name and password to POST /api/v1/session; the session cookie it sets is HttpOnly.
import { h, field, form, card } from "./dom.js";
import * as api from "./api.js";

export async function loginView(root, params, app) {
        const name = h("input", { name: "name", autocomplete: "username", required: true, autofocus: true });
        const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
        root.appendChild(h("div", { class: "login" },
                           card("Log in to Slipway",
                                form([field("User", name), field("Password", password)], "Log in", async () => {
                                        await api.login(name.value, password.value);
                                        password.value = "";
                                        app.loggedIn();
                                }, "login-form"),
                                h("p", { class: "note", text: "User admin's password is the one packaging/quickstart printed; an admin sets any user's with 'slipway user passwd NAME'." }))));
        name.focus();
}
