"""The chat parties of the protocol client (client/chat.py, client/links.py), under the names the tests import."""

from client.chat import Seeker, Volunteer, content, link_content, read_content
from client.links import SeekerExtras, Staff

__all__ = ["Seeker", "SeekerExtras", "Staff", "Volunteer", "content", "link_content", "read_content"]
