// The images list and the daemon's status (proxy, disk use, vulnerability database age).
import { h, card, badge, fmtBytes, fmtAge, shortDigest } from "./dom.js";
import * as api from "./api.js";

export async function imagesView(root, params, app) {
        const { images } = await api.get("images");
        app.title("Images");
        root.appendChild(card("Images",
                              images.length ? h("table", { class: "list images" },
                                                h("thead", {}, h("tr", {}, h("th", { text: "References" }), h("th", { text: "Digest" }), h("th", { class: "num", text: "Size" }),
                                                                 h("th", { class: "num", text: "Layers" }), h("th", { text: "Created" }))),
                                                h("tbody", {}, images.map((i) => h("tr", {},
                                                        h("td", { text: i.refs.join(", ") || "(untagged)" }),
                                                        h("td", {}, h("code", { text: shortDigest(i.digest) })),
                                                        h("td", { class: "num", text: fmtBytes(i.size) }),
                                                        h("td", { class: "num", text: i.layers }),
                                                        h("td", { class: "muted", text: i.created ? fmtAge(Date.parse(i.created) / 1000) : "—" })))))
                                            : h("p", { class: "empty", text: "No image yet: import one with 'slipway image import', or build a git component." })));
}

export async function statusView(root, params, app) {
        const [st, vdb] = await Promise.all([api.get("status"), api.get("vulndb").catch(() => null)]);
        app.title("Status");
        const disk = st.disk;
        const used = disk ? disk.total_bytes - disk.free_bytes : 0;
        root.appendChild(card("Daemon",
                              h("dl", { class: "facts status" },
                                h("dt", { text: "Health" }), h("dd", {}, badge(st.health ? st.health.status : "unknown"), st.health && st.health.reason ? ` ${st.health.reason}` : ""),
                                h("dt", { text: "Version" }), h("dd", { text: st.daemon.version }),
                                h("dt", { text: "API" }), h("dd", {}, h("code", { text: st.daemon.api })),
                                h("dt", { text: "State directory" }), h("dd", {}, h("code", { text: st.daemon.state_dir })),
                                h("dt", { text: "Proxy" }), h("dd", {}, badge(st.proxy.running ? "running" : "stopped")),
                                h("dt", { text: "Disk" }), h("dd", { class: "disk", text: disk ? `${fmtBytes(used)} used of ${fmtBytes(disk.total_bytes)} (${fmtBytes(disk.free_bytes)} free) on ${disk.mount}` : "—" }),
                                h("dt", { text: "Projects" }), h("dd", { text: st.projects }),
                                h("dt", { text: "Instances" }), h("dd", { text: st.instances }),
                                h("dt", { text: "Images" }), h("dd", { text: st.images }),
                                h("dt", { text: "User namespaces" }), h("dd", { text: st.user_namespaces.enabled ? "on" : `off (${st.user_namespaces.reason || "not available"})` }),
                                h("dt", { text: "Vulnerability database" }),
                                h("dd", { class: "vulndb", text: vdb && vdb.last_import_at ? `${vdb.advisories} advisories, imported ${fmtAge(vdb.last_import_at)}` : "not imported (slipway vulndb import FILE.zip)" }))));
}
