"""The baseline of the HTTP benchmarks: a Flask app that answers one small JSON document, started under
the same gunicorn settings as every service's API (`gunicorn -c python:shared.gunicorn_conf bench.hello:app`)."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/hello")
def hello():
    return jsonify(hello="world")
