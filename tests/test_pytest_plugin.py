"""The pytest plugin, exercised from a user's test file through pytester.

The user's tests run in a subprocess: numpy cannot be imported twice in one process, which an
in-process pytester run would need.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]


def test_fixtures_work_in_a_users_test_file(pytester: pytest.Pytester) -> None:
    """The offline Client, OpenAI and AsyncOpenAI fixtures answer a user's tests."""
    pytester.makepyfile(
        """
        import asyncio

        def test_openai(llm_offline_openai):
            reply = llm_offline_openai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi!"}], max_tokens=5
            )
            assert reply.choices[0].message.content
            assert reply.usage.completion_tokens <= 5

        def test_async_openai(llm_offline_async_openai):
            async def run():
                reply = await llm_offline_async_openai.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "Hi!"}], max_tokens=5
                )
                return reply.choices[0].message.content
            assert asyncio.run(run())

        def test_client(llm_offline_client):
            result = llm_offline_client.chat(
                [{"role": "user", "content": "Write a Python function"}], use_case="code"
            )
            assert result.text
            assert result.params["temperature"] == 0.2
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_scripted_fixture_answers_the_other_fixtures(pytester: pytest.Pytester) -> None:
    """Rules added with llm_scripted.add / .load apply to the same test's clients."""
    pytester.makefile(
        ".yaml",
        scripted="scripted:\n  - match: weather\n    completions:\n"
        "      - {text: Sunny., probability: 1.0}\n",
    )
    pytester.makepyfile(
        """
        def test_add(llm_scripted, llm_offline_openai, llm_offline_client):
            llm_scripted.add("what should I wear", {"Sunglasses.": 0.7, "A hat.": 0.3})
            messages = [{"role": "user", "content": "What should I wear?"}]
            reply = llm_offline_openai.chat.completions.create(model="gpt-4o", messages=messages)
            assert reply.choices[0].message.content in ("Sunglasses.", "A hat.")
            assert llm_offline_client.chat(messages).text in ("Sunglasses.", "A hat.")

        def test_load(llm_scripted, llm_offline_openai):
            llm_scripted.load("scripted.yaml")
            reply = llm_offline_openai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "And the weather?"}]
            )
            assert reply.choices[0].message.content == "Sunny."

        def test_rules_do_not_leak_between_tests(llm_offline_openai):
            reply = llm_offline_openai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "What should I wear?"}],
                max_tokens=20,
            )
            assert reply.choices[0].message.content not in ("Sunglasses.", "A hat.")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_replies_repeat_across_tests_and_the_seed_is_overridable(
    pytester: pytest.Pytester,
) -> None:
    """Each test's transport starts from the same seed; overriding llm_offline_seed changes it."""
    pytester.makepyfile(
        test_a="""
        import pathlib

        def ask(client):
            return client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Tell me a story"}],
                temperature=1.5, max_tokens=30,
            ).choices[0].message.content

        def test_one(llm_offline_openai):
            pathlib.Path("one.txt").write_text(ask(llm_offline_openai))

        def test_two(llm_offline_openai):
            assert ask(llm_offline_openai) == pathlib.Path("one.txt").read_text()
        """,
        test_b="""
        import pathlib
        import pytest

        @pytest.fixture
        def llm_offline_seed():
            return 12345

        def test_other_seed(llm_offline_openai):
            reply = llm_offline_openai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Tell me a story"}],
                temperature=1.5, max_tokens=30,
            ).choices[0].message.content
            assert reply != pathlib.Path("one.txt").read_text()
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_plugin_import_is_light() -> None:
    """Importing the plugin loads neither openai, numpy, httpx2 nor uvicorn."""
    code = (
        "import sys, llmpresets.pytest_plugin\n"
        "print(sorted(m for m in ('openai', 'numpy', 'httpx2', 'tiktoken', 'uvicorn')"
        " if m in sys.modules))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_plugin_has_no_autouse_fixtures() -> None:
    """No fixture of the plugin runs unless a test asks for it."""
    import llmpresets.pytest_plugin as plugin

    for name in plugin.__all__:
        definition = getattr(plugin, name)
        marker = getattr(definition, "_fixture_function_marker", None)
        if marker is not None:
            assert not marker.autouse, name


def test_strict_models_ini_option_and_responder_override(pytester: pytest.Pytester) -> None:
    """``llm_strict_models = false`` in the ini file lets any model through; overriding
    ``llm_responder`` in a module scripts every fixture of its tests."""
    pytester.makeini("[pytest]\nllm_strict_models = false\n")
    pytester.makepyfile(
        """
        import pytest
        from llmpresets.offline import ToolCall

        @pytest.fixture
        def llm_responder():
            return lambda request: f"turn {request.turn} of {request.model}"

        def test_any_model_with_the_responder(llm_offline_openai):
            reply = llm_offline_openai.chat.completions.create(
                model="my-fine-tune", messages=[{"role": "user", "content": "Hi"}]
            )
            assert reply.choices[0].message.content == "turn 0 of my-fine-tune"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
