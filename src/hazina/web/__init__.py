"""Server-rendered pages: the merchant dashboard, the hosted checkout and the checkout.js SDK."""
