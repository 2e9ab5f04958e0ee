// ANSI colour (SGR) sequences of build logs as spans with classes; every other escape sequence is dropped.
// The text itself only ever becomes text nodes.  A renderer keeps its state across chunks, so a colour or
// an escape cut in two by the network is rendered as if it had come whole.

const ESC = "\u001b";

export class AnsiRenderer {
        constructor(target) {
                this.target = target;
                this.fg = null;
                this.bg = null;
                this.bold = false;
                this.pending = "";
        }

        write(text) {
                text = this.pending + text;
                this.pending = "";
                // An escape sequence not finished yet: keep it for the next chunk.
                const last = text.lastIndexOf(ESC);
                if (last >= 0 && !/^\u001b(\[[0-9;?]*[ -\/]*[@-~]|[@-Z\\-_])/.test(text.slice(last)) && text.length - last < 32) {
                        this.pending = text.slice(last);
                        text = text.slice(0, last);
                }
                const re = /\u001b\[([0-9;?]*)([ -\/]*[@-~])|\u001b[@-Z\\-_]/g;
                let pos = 0, m;
                const frag = document.createDocumentFragment();
                while ((m = re.exec(text))) {
                        if (m.index > pos)
                                this.emit(frag, text.slice(pos, m.index));
                        if (m[2] === "m")
                                this.sgr(m[1]);
                        pos = re.lastIndex;
                }
                if (pos < text.length)
                        this.emit(frag, text.slice(pos));
                this.target.appendChild(frag);
        }

        emit(frag, s) {
                s = s.replace(/\r(?!\n)/g, "");
                if (!s)
                        return;
                if (this.fg === null && this.bg === null && !this.bold) {
                        frag.appendChild(document.createTextNode(s));
                        return;
                }
                const span = document.createElement("span");
                const cls = [];
                if (this.fg !== null)
                        cls.push(`ansi-fg-${this.fg}`);
                if (this.bg !== null)
                        cls.push(`ansi-bg-${this.bg}`);
                if (this.bold)
                        cls.push("ansi-bold");
                span.className = cls.join(" ");
                span.textContent = s;
                frag.appendChild(span);
        }

        sgr(params) {
                const codes = params === "" ? [0] : params.split(";").map((x) => parseInt(x, 10) || 0);
                for (let i = 0; i < codes.length; i++) {
                        const c = codes[i];
                        if (c === 0) {
                                this.fg = this.bg = null;
                                this.bold = false;
                        } else if (c === 1)
                                this.bold = true;
                        else if (c === 22)
                                this.bold = false;
                        else if (c >= 30 && c <= 37)
                                this.fg = c - 30;
                        else if (c >= 90 && c <= 97)
                                this.fg = c - 90 + 8;
                        else if (c === 39)
                                this.fg = null;
                        else if (c >= 40 && c <= 47)
                                this.bg = c - 40;
                        else if (c >= 100 && c <= 107)
                                this.bg = c - 100 + 8;
                        else if (c === 49)
                                this.bg = null;
                        else if (c === 38 || c === 48) {
                                // 256-colour and true-colour: the nearest of the 16 is enough for a log.
                                let idx = null;
                                if (codes[i + 1] === 5) {
                                        const n = codes[i + 2] || 0;
                                        idx = n < 16 ? n : null;
                                        i += 2;
                                } else if (codes[i + 1] === 2)
                                        i += 4;
                                if (c === 38)
                                        this.fg = idx;
                                else
                                        this.bg = idx;
                        }
                }
        }
}
