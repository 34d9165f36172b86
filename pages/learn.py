"""Learn: what self-supervised learning is, each learner's objective, and worked numbers computed live."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from pages._shell import ROOT, ensure_app_shell

ensure_app_shell()
st.title("Learn")
st.markdown(
    """
**Self-supervised learning** learns from the data itself, with no labels: the model is given a task whose
answer is already in the table — rebuild a product's attributes, undo some scrambling, recognise two
distorted copies of the same product — and to solve it, it must compress each product into a short vector,
its **embedding** $z = f(x)$. Products the model treats alike end up with similar vectors, so the
embedding can find look-alike products, spot odd ones, or feed other models.

Every product row $x$ is first encoded into numbers (one **span** per source column: a standardised
value plus a missing flag for numbers, a one-hot block for categories, for text a few SVD components of
TF-IDF and, when installed, the vector of a **pretrained sentence encoder** — a small language model
(all-MiniLM-L6-v2) that already knows "banana" and "apple" are both fruit). The encoder $f$ is a small
neural network (an MLP); what differs between learners is the task — the **loss** they minimise.
"""
)

st.header("The learners")


def diagram(learner: str) -> None:
    path = ROOT / "assets" / f"learner-{learner}.svg"
    if path.exists():
        st.image(str(path))


st.subheader("Autoencoder")
diagram("autoencoder")
st.markdown("Squeeze the row through the embedding and rebuild it: $z = f(x)$, $\\hat x = g(z)$. The loss "
            "adds one term per source column (span $s$), each weighted equally ($w_s = 1/S$) so that a wide "
            "text span does not drown a price:")
st.latex(r"L_{\text{AE}} = \sum_{s=1}^{S} w_s\, \ell_s(x_s, \hat x_s), \qquad "
         r"\ell_s = \begin{cases} \frac{1}{|s|}\sum_{j \in s} (x_j - \hat x_j)^2 & \text{numeric, text}\\[4pt]"
         r"-\sum_{j \in s} x_j \log \operatorname{softmax}(\hat x_s)_j & \text{categorical (cross-entropy)}"
         r"\end{cases}")
st.markdown("The per-product value of this loss is its **reconstruction error**: large when the model cannot "
            "explain the product from what it learned about the others (the Reconstruction page).")

st.subheader("Denoising autoencoder (swap noise)")
diagram("denoising")
st.markdown("Corrupt each cell with probability $p$ by **swapping in the same column's value from another "
            "random row**, then rebuild the *clean* row. Swap noise keeps every value realistic, so the model "
            "must use the relations between columns (a brand suggests a price range) to undo it:")
st.latex(r"\tilde x_{ic} = \begin{cases} x_{rc},\ r \sim \mathcal U\{1..n\} & \text{with probability } p\\ "
         r"x_{ic} & \text{otherwise}\end{cases} \qquad "
         r"L_{\text{DAE}} = \sum_s w_s\, \ell_s\big(x_s,\ g(f(\tilde x))_s\big)")

st.subheader("Contrastive")
diagram("contrastive")
st.markdown("Pair each product $x_i$ with a **partner** $\\tilde x_i$ and teach the network which rows belong "
            "together. The partner is, by default, **one of the product's 10 nearest neighbours in the encoded "
            "columns** (cosine), drawn anew at every step: the network learns a smooth map that keeps and sharpens "
            "the neighbourhoods the columns already show. SCARF's original partner is a **scrambled copy**: a "
            "fraction $c$ of the columns replaced with draws from each column's empirical distribution. A "
            "projection head $h$ maps both to $u_i = h(f(x_i))$ and $\\tilde u_i = h(f(\\tilde x_i))$. NT-Xent "
            "(normalised temperature-scaled cross-entropy) asks each vector to pick out its partner among the "
            "$2N$ vectors $a$ of the batch — the other rows are the **negatives**:")
st.latex(r"\ell_i = -\log \frac{\exp\!\big(\cos(u_i, \tilde u_i)/\tau\big)}"
         r"{\sum_{k \ne i} \exp\!\big(\cos(a_i, a_k)/\tau\big)}, \qquad "
         r"L_{\text{NT-Xent}} = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i, \qquad "
         r"\cos(a, b) = \frac{a \cdot b}{\lVert a\rVert\, \lVert b\rVert}")
st.markdown("The temperature $\\tau$ sets how sharply the softmax separates the partner from the negatives: "
            "a small $\\tau$ punishes hard negatives strongly. The **margin** variant uses a hinge on the cosine "
            "instead, pulling partners together and pushing negatives below a margin $m$:")
st.latex(r"L_{\text{margin}} = \frac{1}{N}\sum_i \big(1 - \cos(u_i, \tilde u_i)\big) + "
         r"\frac{1}{N(N-1)} \sum_{i \ne j} \max\big(0,\ \cos(u_i, \tilde u_j) - m\big)")
st.markdown("There is no decoder, so no reconstruction error — the embedding is $f(x)$ and $h$ is thrown away.")

st.subheader("Multi-task")
diagram("multitask")
st.markdown("One shared encoder, several heads, one weighted sum of losses; the weights $\\lambda_k$ are "
            "sliders on the Train page:")
st.latex(r"L = \lambda_{\text{rec}} L_{\text{rec}} + \lambda_{\text{mask}} L_{\text{mask}} + "
         r"\lambda_{\text{con}} L_{\text{NT-Xent}} + \lambda_{\text{col}} L_{\text{col}}")
st.markdown("The default, and the learner to start with: it rebuilds rows (so it gives reconstruction errors) "
            "*and* learns from neighbour partners, which gave the best neighbours on the real catalogs measured. "
            "$L_{\\text{rec}}$ rebuilds the clean row from a corrupted one; $L_{\\text{col}}$ predicts columns "
            "you choose, hidden from the input. $L_{\\text{mask}}$ is **VIME's mask prediction**: a mask "
            "$m_{ic} \\sim \\text{Bernoulli}(r)$ marks cells replaced by another row's value, and a head "
            "$\\hat m = \\sigma(q(f(\\tilde x)))$ guesses which ones, by binary cross-entropy:")
st.latex(r"L_{\text{mask}} = -\frac{1}{nS}\sum_{i,c} \Big[m_{ic} \log \hat m_{ic} + "
         r"(1 - m_{ic}) \log (1 - \hat m_{ic})\Big]")

st.header("Worked examples (computed live)")

st.subheader("Cosine similarity")
a = np.array([1.0, 2.0, 3.0])
b = np.array([4.0, 5.0, 6.0])
cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
st.latex(rf"\cos([1,2,3],[4,5,6]) = \frac{{1\cdot4 + 2\cdot5 + 3\cdot6}}{{\sqrt{{14}}\,\sqrt{{77}}}} = "
         rf"\frac{{{a @ b:.0f}}}{{{np.linalg.norm(a):.4f} \times {np.linalg.norm(b):.4f}}} = {cos:.4f}")
st.markdown(f"So the cosine is **{cos:.4f}** — not the “≈ 0.9” the article this project started from states. "
            "Cosine compares directions only: $[2,4,6]$ has cosine exactly 1 with $[1,2,3]$. The Neighbours "
            "page ranks products by this number.")

st.subheader("One NT-Xent term")
st.markdown("A batch of $N = 2$ products, each with its corrupted view, gives $2N = 4$ projections. The term for "
            "the first product compares its partner against the three other vectors:")
tau = st.select_slider("temperature τ", [0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.5, key="learn.tau")
vectors = {
    "u₁ (product 1)": np.array([1.0, 2.0, 3.0]),
    "ũ₁ (its view)": np.array([1.2, 1.7, 3.1]),
    "u₂ (product 2)": np.array([3.0, -1.0, 0.5]),
    "ũ₂ (its view)": np.array([2.6, -1.4, 0.9]),
}
names = list(vectors)
unit = np.stack([v / np.linalg.norm(v) for v in vectors.values()])
cosines = unit[0] @ unit[1:].T  # u₁ against ũ₁, u₂, ũ₂
logits = cosines / tau
term = float(-logits[0] + np.log(np.exp(logits).sum()))
st.dataframe(pd.DataFrame({"vector": names[1:], "cos(u₁, ·)": cosines.round(4), "cos/τ": logits.round(3),
                           "exp(cos/τ)": np.exp(logits).round(3)}), hide_index=True)
st.latex(rf"\ell_1 = -\log \frac{{e^{{{logits[0]:.3f}}}}}{{e^{{{logits[0]:.3f}}} + e^{{{logits[1]:.3f}}} + "
         rf"e^{{{logits[2]:.3f}}}}} = {term:.4f}")
st.markdown(f"The partner's softmax probability is {np.exp(-term):.3f}. Lower τ and the same cosines give a "
            "sharper softmax: a smaller loss when the partner is already the closest, a larger one when a "
            "negative comes close.")

st.header("What to look for on the other pages")
st.markdown(
    """
- **Train** — the validation loss should fall and flatten; if it rises while the training loss falls, the
  model is memorising (the weights of the best of the run's 20 checks are kept). With a label chosen, the summary compares
  kNN precision (how often a product's 10 nearest neighbours share its label) with the raw features and
  PCA: a useful embedding beats PCA.
- **Map** — clusters that match categories you know, and points that sit far from every cluster. Colour by
  anomaly score: odd products glow. UMAP keeps local neighbourhoods, not global distances, so do not
  read too much into the space between clusters. Click one product and its nearest neighbours in the learned
  space are starred: they are not always the points next to it on a 2D map. *Find on the map* stars the
  products nearest in meaning to a few words, so you can see whether a kind of product is one region or many.
- **Neighbours** — do a product's nearest neighbours look like it? Compare with the raw feature space:
  a good embedding finds look-alikes that differ in wording but agree in meaning; *Why are they alike?*
  splits their similarity into the columns that make it.
- **Reconstruction** — the most unusual products and the columns that make them unusual: data errors
  (a price with three extra zeros), rare combinations, or genuinely special products. The score asks how
  rare each column's surprise is when the model predicts it from the product's other columns.
- **Duplicates** — pairs whose columns nearly all match: the same product listed twice, or a variant.
- **Compare** — the same catalog under two learners: metrics side by side, the two maps aligned (select a group
  on one map and it is starred on the other), and the products whose neighbourhoods changed most.
- **Runs** — a trained model is reusable: place a file of new products in it (no training) to see where they
  land, how unusual each is and whether it is already in the catalog.
"""
)
